"""Shared pieces of the offer tests end to end: OpenOMS's stock and price commands as the
sender writes them (keyed by SKU), and the simulator's view of what Allegro received."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer

from sandbox.allegro import SimulatorState
from tests.support.commands import ACCOUNT, COMMAND_TIME

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
