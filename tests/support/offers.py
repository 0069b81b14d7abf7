"""Shared pieces of the offer tests end to end: OpenOMS's stock and price commands as the
sender writes them (keyed by SKU), and the simulator's view of what Allegro received."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from sandbox.allegro import SimulatorState
from tests.support.commands import ACCOUNT, COMMAND_TIME
from tests.support.kafka_reader import ConsumedRecord, read_topic

OFFER_CHANGED = "openoms.offer.changed.v1"
Command = dict[str, Any]


def set_stock(sku: str, available: int, **extra: object) -> Command:
    return {
        "command_id": str(uuid.uuid4()),
        "command_type": "SetStock",
        "account": ACCOUNT,
        "sku": sku,
        "available": available,
        **extra,
    }


def set_price(sku: str, amount: str, currency: str = "PLN", **extra: object) -> Command:
    return {
        "command_id": str(uuid.uuid4()),
        "command_type": "SetPrice",
        "account": ACCOUNT,
        "sku": sku,
        "amount": amount,
        "currency": currency,
        **extra,
    }


async def send_offer_commands(bootstrap: str, topic: str, commands: Iterable[Command]) -> None:
    """Keyed by SKU, as OpenOMS sends them (one SKU, one partition, in order); sent in one
    go and flushed, so that thousands take a moment."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, linger_ms=5)
    await producer.start()
    try:
        for command in commands:
            await producer.send(
                topic,
                json.dumps(command).encode(),
                key=str(command.get("sku", "")).encode(),
                headers=[("ce_time", COMMAND_TIME)],
            )
        await producer.flush()
    finally:
        await producer.stop()


def skus_of(state: SimulatorState) -> dict[str, list[str]]:
    """SKU -> the simulator's offer ids that carry it."""
    found: dict[str, list[str]] = {}
    for offer_id in state.offer_ids():
        sku = (state.offer(offer_id).get("external") or {}).get("id")
        if sku:
            found.setdefault(sku, []).append(offer_id)
    return found


def stock_of(state: SimulatorState, offer_id: str) -> tuple[int, str]:
    """(stock available, publication status) as Allegro shows the offer now."""
    offer = state.offer(offer_id)
    return offer["stock"]["available"], offer["publication"]["status"]


def published(records: Iterable[ConsumedRecord]) -> list[dict[str, Any]]:
    """The `OfferChanged` values of the offers topic, in the order read."""
    return [r.json() for r in records if r.header("ce_type") == OFFER_CHANGED]


def offer_now(state: SimulatorState, offer_id: str) -> dict[str, Any]:
    """What an `OfferChanged` for the offer must say now, from the simulator's offer: the
    base marketplace's price first, then the others by marketplace id."""
    offer = state.offer(offer_id)
    base = offer["sellingMode"]["price"]
    others = sorted((offer.get("additionalMarketplaces") or {}).items())
    return {
        "offer_id": offer_id,
        "sku": (offer.get("external") or {}).get("id"),
        "stock_available": offer["stock"]["available"],
        "prices": [{"marketplace": "allegro-pl", **base}]
        + [{"marketplace": mp, **extra["sellingMode"]["price"]} for mp, extra in others],
        "publication_status": offer["publication"]["status"],
        "ended_by": offer["publication"]["endedBy"],
    }


def as_published(value: dict[str, Any]) -> dict[str, Any]:
    """The fields of a published `OfferChanged` that `offer_now` predicts."""
    return {name: value.get(name) for name in _PREDICTED}


_PREDICTED = (
    "offer_id",
    "sku",
    "stock_available",
    "prices",
    "publication_status",
    "ended_by",
)


async def offers_once_published(
    bootstrap: str, topic: str, expected: dict[str, dict[str, Any]], within: float
) -> list[dict[str, Any]]:
    """The offers topic's `OfferChanged` values once the last one of each offer in `expected`
    says what `expected` says (bounded by `within`)."""
    deadline = time.monotonic() + within
    while True:
        values = published(await read_topic(bootstrap, topic, within=30))
        last = {v["offer_id"]: as_published(v) for v in values}
        behind = [i for i, want in expected.items() if last.get(i) != want]
        if not behind:
            return values
        assert time.monotonic() < deadline, (
            f"{len(behind)} offer(s) not published as they are after {within} s: "
            f"{[(i, last.get(i), expected[i]) for i in behind[:3]]}"
        )
        await asyncio.sleep(0.3)


def journal_reads(state: SimulatorState) -> int:
    """How many times `GET /sale/offer-events` was asked so far."""
    return sum(1 for entry in state.request_log if entry.path == "/sale/offer-events")


def quantity_commands(state: SimulatorState) -> set[str]:
    """The distinct ids of the quantity batch commands Allegro received."""
    return {p["commandId"] for p in state.offer_command_puts() if p["kind"] == "quantity"}
