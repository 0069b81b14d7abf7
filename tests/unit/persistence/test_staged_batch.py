"""The staged batch layout across releases: records carry the content fingerprint, and a
batch staged by the release before fingerprints (five record columns) still decodes."""

from __future__ import annotations

import json

import pytest

from adapters.persistence.staged_batch import decode_staged, encode_staged
from application.ports.errors import StateStoreError
from application.ports.state import Cursor, StagedBatch
from domain.mapping import StatusTriple
from domain.policy import OrderRecord
from domain.statuses import OrderStatus, PaymentStatus

CONTENT = "1;buyer=0123456789abcdef;shipping_address=fedcba9876543210"
PAID = StatusTriple(OrderStatus.NEW, PaymentStatus.PAID, None)


def staged(records: list[object]) -> str:
    """A format-1 payload holding `records` (as the release before content fingerprints
    wrote it when each record has five columns)."""
    payload = {
        "format": 1,
        "cursor": {"position": "20"},
        "records": records,
        "cleared_failures": ["cf-ok"],
        "messages": [],
    }
    return json.dumps(payload)


def test_a_batch_staged_before_fingerprints_decodes_with_content_none() -> None:
    payload = staged(
        [
            ["cf-ok", "rev-1", "new", "paid", None],
            ["cf-sent", None, "shipped", "cash_on_delivery", "SENT"],
        ]
    )

    batch = decode_staged(payload)

    shipped = StatusTriple(OrderStatus.SHIPPED, PaymentStatus.CASH_ON_DELIVERY, "SENT")
    assert batch.records == (
        OrderRecord("cf-ok", "rev-1", PAID, None),
        OrderRecord("cf-sent", None, shipped, None),
    )
    assert batch.cursor == Cursor("20")
    assert batch.cleared_failures == ("cf-ok",)


def test_the_content_is_staged_as_a_sixth_record_column_and_read_back() -> None:
    batch = StagedBatch(
        Cursor("7"),
        (OrderRecord("cf-1", "rev-2", PAID, CONTENT), OrderRecord("cf-2", None, PAID, None)),
        (),
        (),
    )

    payload = encode_staged(batch)

    assert [row[5] for row in json.loads(payload)["records"]] == [CONTENT, None]
    assert decode_staged(payload) == batch


@pytest.mark.parametrize(
    "row",
    [
        ["cf-1", "rev-1", "new", "paid"],
        ["cf-1", "rev-1", "new", "paid", None, CONTENT, "extra"],
        ["cf-1", "rev-1", "new", "paid", None, 42],
        "cf-1",
    ],
    ids=["too-few-columns", "too-many-columns", "content-not-text", "not-a-row"],
)
def test_a_record_of_another_shape_is_unreadable(row: object) -> None:
    with pytest.raises(StateStoreError, match="unreadable"):
        decode_staged(staged([row]))
