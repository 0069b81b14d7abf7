"""Repeated warnings are thinned to one line per cause per interval, with the count they
stand for; third-party loggers end up in the one JSON stream."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from entrypoints.logging_setup import RepeatFilter, configure_logging


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(
    msg: str = "Unable connect to node with id %s: %s",
    *args: object,
    name: str = "aiokafka.conn",
    level: int = logging.ERROR,
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args or (1, "refused"), None)


def passed(filter_: RepeatFilter, records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if filter_.filter(r)]


def test_one_line_per_cause_per_interval_then_the_count() -> None:
    clock = Clock()
    filter_ = RepeatFilter(30.0, clock=clock)

    first = passed(filter_, [record("x %s", n) for n in range(38)])  # 38 in the same second
    clock.now = 29.9
    still = passed(filter_, [record("x %s", 99)])
    clock.now = 30.0
    [after] = passed(filter_, [record("x %s", 100), record("x %s", 101)])

    assert len(first) == 1
    assert not hasattr(first[0], "repeated")
    assert still == []
    assert after.__dict__["repeated"] == 38  # 37 in the first second, one at 29.9 s
    assert after.getMessage() == "x 100"


def test_causes_are_counted_apart() -> None:
    filter_ = RepeatFilter(30.0, clock=Clock())
    records = [
        record("a %s", 1),
        record("b %s", 1),
        record("a %s", 2, level=logging.WARNING),
        record("a %s", 3, name="aiokafka.cluster"),
        record("a %s", 4),
    ]

    assert [r.getMessage() for r in passed(filter_, records)] == ["a 1", "b 1", "a 2", "a 3"]


def test_an_exception_type_is_part_of_the_cause() -> None:
    filter_ = RepeatFilter(30.0, clock=Clock())
    records = []
    for error in (ConnectionError, TimeoutError, ConnectionError):
        try:
            raise error("x")
        except Exception:
            r = logging.LogRecord("svc", logging.ERROR, __file__, 1, "failed", (), None)
            r.exc_info = sys.exc_info()
            records.append(r)

    assert len(passed(filter_, records)) == 2


def test_an_error_passed_as_an_argument_is_part_of_the_cause() -> None:
    """aiokafka logs `"Unable connect to node with id %s: %s", node_id, err`: the same
    template with a new error is a new cause, shown at once; the same error is thinned."""
    filter_ = RepeatFilter(30.0, clock=Clock())
    template = "Unable connect to node with id %s: %s"
    records = [
        record(template, 1, ConnectionRefusedError("refused")),
        record(template, 2, ConnectionRefusedError("refused")),
        record(template, 1, PermissionError("SASL authentication failed")),
        record("Unexpected error during InitProducerIdRequest: %s", ConnectionRefusedError),
        record("Unexpected error during InitProducerIdRequest: %s", PermissionError),
    ]

    assert [r.args[-1] for r in passed(filter_, records)] == [
        records[0].args[-1],
        records[2].args[-1],
        ConnectionRefusedError,
        PermissionError,
    ]


def test_progress_lines_below_warning_are_never_thinned() -> None:
    filter_ = RepeatFilter(30.0, clock=Clock())
    infos = [record("batch committed", level=logging.INFO, name="svc") for _ in range(5)]

    assert len(passed(filter_, infos)) == 5


def test_the_services_own_warnings_are_paced_by_it_not_thinned() -> None:
    filter_ = RepeatFilter(30.0, clock=Clock())
    ours = [
        record("poll failed, cursor held", name="application.poll_loop", level=logging.WARNING)
        for _ in range(5)
    ]

    assert len(passed(filter_, ours)) == 5


def test_memory_is_bounded_to_the_most_recent_causes() -> None:
    filter_ = RepeatFilter(30.0, max_causes=3, clock=Clock())

    passed(filter_, [record(f"cause {n}") for n in range(1000)])

    assert len(filter_._windows) == 3
    # the oldest was forgotten, so it passes again; a recent one is still thinned
    assert [r.msg for r in passed(filter_, [record("cause 0"), record("cause 999")])] == ["cause 0"]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.captureWarnings(False)


@pytest.mark.usefixtures("restore_logging")
def test_library_loggers_with_their_own_handlers_end_up_in_the_json_stream(
    capsys: pytest.CaptureFixture[str],
) -> None:
    stream = sys.stderr
    library = logging.getLogger("aiokafka.producer.sender")
    library.addHandler(logging.StreamHandler(stream))  # plain text, as a library might
    library.propagate = False
    uvicorn = logging.getLogger("uvicorn.error")
    uvicorn.addHandler(logging.StreamHandler(stream))
    uvicorn.propagate = False

    configure_logging("INFO", "json", account="shop")
    for n in range(50):
        library.error("Unexpected error during InitProducerIdRequest: %s", n)
    uvicorn.error("[Errno 98] address already in use")
    logging.getLogger("py.warnings").warning("unclosed %s", "AIOKafkaProducer")

    lines = capsys.readouterr().err.splitlines()
    records = [json.loads(line) for line in lines]  # every line JSON
    assert [(r["logger"], r["message"]) for r in records] == [
        ("aiokafka.producer.sender", "Unexpected error during InitProducerIdRequest: 0"),
        ("uvicorn.error", "[Errno 98] address already in use"),
        ("py.warnings", "unclosed AIOKafkaProducer"),
    ]
    assert all(r["account"] == "shop" for r in records)
