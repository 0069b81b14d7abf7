"""Backoff schedule and Retry-After parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.allegro.retry import BackoffPolicy, is_retryable_status, retry_after_seconds

NOW = datetime(2026, 3, 14, 9, 0, tzinfo=UTC)


def test_backoff_ceilings_double_from_the_initial_delay_up_to_the_cap() -> None:
    policy = BackoffPolicy(max_attempts=10, initial=1.0, cap=60.0)

    assert [policy.ceiling(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    seen: list[float] = []

    def jitter(ceiling: float) -> float:
        seen.append(ceiling)
        return ceiling / 2

    policy = BackoffPolicy(max_attempts=6, initial=0.5, cap=3.0, jitter=jitter)

    delays = [policy.delay(n) for n in range(1, 6)]

    assert seen == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert delays == [0.25, 0.5, 1.0, 1.5, 1.5]


def test_the_default_jitter_stays_within_bounds() -> None:
    policy = BackoffPolicy(max_attempts=6, initial=1.0, cap=8.0)

    delays = [policy.delay(4) for _ in range(200)]

    assert all(0.0 <= d <= 8.0 for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(429, True), (500, True), (503, True), (504, True), (400, False), (404, False), (200, False)],
)
def test_retryable_statuses(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("-3", 0.0),
        ("Sat, 14 Mar 2026 09:00:30 GMT", 30.0),
        ("Sat, 14 Mar 2026 08:59:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_retry_after_as_seconds_or_http_date(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds


@pytest.mark.parametrize("skew_hours", [-3, 3])
def test_an_http_date_is_measured_from_the_responses_date_header(skew_hours: int) -> None:
    local_now = NOW + timedelta(hours=skew_hours)  # the local clock is hours off

    seconds = retry_after_seconds(
        "Sat, 14 Mar 2026 09:01:00 GMT", local_now, date="Sat, 14 Mar 2026 09:00:00 GMT"
    )

    assert seconds == 60.0


@pytest.mark.parametrize("date", [None, "", "yesterday", "Sat, 14 Mar 2026 25:00:00 GMT"])
def test_without_a_readable_date_header_an_http_date_is_measured_from_now(
    date: str | None,
) -> None:
    assert retry_after_seconds("Sat, 14 Mar 2026 09:00:30 GMT", NOW, date=date) == 30.0


def test_delta_seconds_ignore_the_date_header() -> None:
    assert retry_after_seconds("7", NOW, date="Sat, 14 Mar 2026 01:00:00 GMT") == 7.0
