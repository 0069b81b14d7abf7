"""The demo's rows and header: labelled, counted by topic, and free of buyer data."""

from __future__ import annotations

import json
import re

from adapters.kafka.examples import (
    example_dead_letter,
    example_order_imported,
    example_order_status_changed,
)
from adapters.kafka.messages import encode_dead_letter, encode_event, quarantine_record
from entrypoints.demo import Tally, _line

BUYER_DATA = (
    "jan_kowalski",
    "allegromail",
    "Kowalski",
    "500 600 700",
    "Przykładowa",
    "Poznań",
    "60-001",
    "zapakowanie",
)
AT_NOON_MS = 1_718_706_902_000


def decoded(value: bytes) -> dict[str, object]:
    message: dict[str, object] = json.loads(value)
    return message


def test_an_imported_order_shows_its_id_amount_and_statuses_and_no_buyer_data() -> None:
    tally = Tally()
    row = _line(tally, False, decoded(encode_event(example_order_imported()).value), AT_NOON_MS)

    assert re.fullmatch(
        r"\d\d:\d\d:\d\d  OrderImported\s+29ab6d20-2e47\s+138\.99 PLN  new/paid", row.plain
    )
    assert not [value for value in BUYER_DATA if value in row.plain]
    assert tally.published["OrderImported"] == 1


def test_a_status_change_shows_the_transition() -> None:
    tally = Tally()
    event = decoded(encode_event(example_order_status_changed()).value)

    row = _line(tally, False, event, AT_NOON_MS)

    assert "new → shipped (FULFILLMENT_STATUS_CHANGED)" in row.plain
    assert tally.published["OrderStatusChanged"] == 1


def test_a_dead_letter_is_counted_by_its_topic_even_when_it_names_an_event_type() -> None:
    # An event too large to publish is quarantined with its `event_type`: it is a dead
    # letter all the same, and its error's detail (which may quote the payload) stays out.
    too_large = quarantine_record(
        encode_event(example_order_imported()), "record of 9999999 bytes: jan_kowalski", 4096
    )
    tally = Tally()

    row = _line(tally, True, decoded(too_large.value), AT_NOON_MS)

    assert "dead letter" in row.plain
    assert "jan_kowalski" not in row.plain
    assert (tally.dead_letters, sum(tally.published.values())) == (1, 0)


def test_the_header_labels_every_figure() -> None:
    tally = Tally()
    _line(tally, True, decoded(encode_dead_letter(example_dead_letter()).value), AT_NOON_MS)
    tally.lag_events, tally.lag_capped, tally.requests_last_minute = 1000, True, 42

    line = tally.line()

    for figure in ("dead letters 1", "lag (events) 1000+", "Allegro req/min 42 of 600"):
        assert figure in line
    assert [column.header for column in tally.table().columns] == [
        label for label, _ in tally.figures()
    ]
