"""The demo's offers (docs/offers.md): what OpenOMS sends for its SKUs, and the rows that show
the commands, their results and the `OfferChanged` events that come back.

OpenOMS's part is a fixed plan over the simulator's SKUs: one command every
OFFER_COMMAND_EVERY_SECONDS, a stock level, a price, then stock 0 (Allegro ends the offers)
followed by stock again (they are activated again). A row shows the offer id, the SKU, the
stock, the price and the publication status: offers carry no buyer data.

The rows are returned as cells (time, event, order or offer, amount or price, status) with a
style; demo.py lays them out in its columns.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count

from aiokafka import AIOKafkaProducer

from adapters.kafka import KafkaConfig
from adapters.kafka.messages import cloudevent_headers, utc_timestamp
from adapters.kafka.offers import CE_TYPE_SET_PRICE, CE_TYPE_SET_STOCK
from sandbox.allegro import SimulatorState

OFFER_FIRST_AFTER_SECONDS = 2.0  # the first command soon, so a short demo shows a result
OFFER_COMMAND_EVERY_SECONDS = 8.0
OFFER_SOURCE = "openoms/demo"  # the commands' `ce_source`: they come from "OpenOMS"
OFFER_CURRENCY = "PLN"  # the base marketplace's (allegro-pl), as the simulator prices offers
RESTOCK = 6  # the stock a SKU gets back after it was set to 0

Cells = tuple[str, str, str, str, str]
Command = dict[str, object]


@dataclass
class OfferTally:
    """The offers' share of the running header and the summary."""

    commands_sent: int = 0
    results: Counter[str] = field(default_factory=Counter)  # by `result_type`
    changes: int = 0  # OfferChanged events shown
    # command_id -> what the command asked ("SetStock 0"), for its result row.
    asked: dict[str, str] = field(default_factory=dict)

    def figures(self) -> list[tuple[str, str]]:
        succeeded, failed = self.results["CommandSucceeded"], self.results["CommandFailed"]
        return [
            ("offer commands", str(self.commands_sent)),
            ("offer results", f"{succeeded} ok, {failed} failed"),
            ("offer changes", str(self.changes)),
        ]


async def operate_offers(
    config: KafkaConfig,
    tally: OfferTally,
    skus: Sequence[str],
    account: str,
    show: Callable[[Cells, str], None],
) -> None:
    """OpenOMS's stock and prices: the first command OFFER_FIRST_AFTER_SECONDS after the
    start (the service reads the topic from its beginning, so it finds the command however
    late it joins), then one every OFFER_COMMAND_EVERY_SECONDS until cancelled (the demo
    stops). `show` prints a row."""
    producer = AIOKafkaProducer(
        bootstrap_servers=config.bootstrap_servers,
        # The embedded broker (tansu) rejects InitProducerId: no idempotent producer here.
        enable_idempotence=False,
    )
    await producer.start()
    try:
        await asyncio.sleep(OFFER_FIRST_AFTER_SECONDS)
        for command in offer_plan(skus, account):
            key, value, headers = offer_command_record(command, OFFER_SOURCE)
            await producer.send_and_wait(
                config.topic_offer_commands, value, key=key, headers=headers
            )
            show(*sent_row(tally, command))
            await asyncio.sleep(OFFER_COMMAND_EVERY_SECONDS)
    finally:
        await producer.stop()


def demo_skus(state: SimulatorState) -> list[str]:
    """The SKUs of the simulator's offers, sorted: OpenOMS knows its own SKUs."""
    found = {
        (state.offer(offer_id).get("external") or {}).get("id") for offer_id in state.offer_ids()
    }
    return sorted(sku for sku in found if isinstance(sku, str) and sku)


def offer_plan(skus: Sequence[str], account: str) -> Iterator[Command]:
    """Endless and deterministic: per SKU in turn a stock level, a price, or stock 0 and then
    RESTOCK for the same SKU (two commands), so every third SKU shows an offer ending and
    coming back."""
    if not skus:
        return
    for n in count():
        sku = skus[n % len(skus)]
        match n % 3:
            case 0:
                yield _command("SetStock", account, sku, available=5 + n % 20)
            case 1:
                yield _command(
                    "SetPrice", account, sku, amount=f"{19 + n % 80}.90", currency=OFFER_CURRENCY
                )
            case _:
                yield _command("SetStock", account, sku, available=0)
                yield _command("SetStock", account, sku, available=RESTOCK)


def _command(command_type: str, account: str, sku: str, **fields: object) -> Command:
    return {
        "command_id": str(uuid.uuid4()),
        "command_type": command_type,
        "account": account,
        "sku": sku,
        **fields,
    }


def offer_command_record(
    command: Command, source: str
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Key (the SKU, so one SKU's commands stay in order), value and CloudEvents headers."""
    sku = str(command["sku"])
    ce_type = CE_TYPE_SET_STOCK if command["command_type"] == "SetStock" else CE_TYPE_SET_PRICE
    headers = cloudevent_headers(
        ce_id=str(command["command_id"]),
        source=source,
        ce_type=ce_type,
        subject=sku,
        time=utc_timestamp(datetime.now(UTC)),
    )
    return sku.encode(), json.dumps(command).encode(), headers


def sent_row(tally: OfferTally, command: Command) -> tuple[Cells, str]:
    """A command just sent; remembers what it asked for the row of its result."""
    tally.commands_sent += 1
    if command["command_type"] == "SetStock":
        asked = f"SetStock {command['available']}"
    else:
        asked = f"SetPrice {command['amount']} {command['currency']}"
    tally.asked[str(command["command_id"])] = asked
    seen = datetime.now().strftime("%H:%M:%S")
    return (seen, "command sent", str(command["sku"]), "", asked), "magenta"


def is_offer_result(result: dict[str, object]) -> bool:
    """An offer command's result names a SKU and no order."""
    return bool(result.get("sku")) and not result.get("checkout_form_id")


def result_row(
    tally: OfferTally, result: dict[str, object], timestamp_ms: int
) -> tuple[Cells, str]:
    """What the command asked and, if it failed, why (the reason and Allegro's code; never
    the message, which may quote anything the command carried)."""
    seen = _seen(timestamp_ms)
    kind = str(result.get("result_type", "?"))
    tally.results[kind] += 1
    asked = tally.asked.get(str(result.get("command_id")), str(result.get("command_type") or "?"))
    sku = str(result.get("sku") or "")
    if kind == "CommandSucceeded":
        return (seen, kind, sku, "", asked), "green"
    why = str(result.get("reason") or "?")
    if result.get("code"):
        why += f" ({result['code']})"
    return (seen, kind, sku, "", f"{asked}: {why}"), "red"


def changed_row(
    tally: OfferTally, event: dict[str, object], timestamp_ms: int
) -> tuple[Cells, str]:
    """An `OfferChanged`: the offer, its base price, and its SKU, stock and status."""
    tally.changes += 1
    prices = event.get("prices")
    first = prices[0] if isinstance(prices, list) and prices else None
    price = f"{first.get('amount')} {first.get('currency')}" if isinstance(first, dict) else ""
    status = str(event.get("publication_status") or "?")
    if event.get("ended_by"):
        status += f" ({event['ended_by']})"
    stock = event.get("stock_available")
    shown = f"{event.get('sku') or '-'}  stock {'-' if stock is None else stock}  {status}"
    style = "red" if status.startswith("ENDED") else "blue"
    return (
        _seen(timestamp_ms),
        "OfferChanged",
        str(event.get("offer_id") or ""),
        price,
        shown,
    ), style


def _seen(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms / 1000).strftime("%H:%M:%S")
