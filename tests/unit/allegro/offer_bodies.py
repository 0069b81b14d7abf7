"""Allegro's offer bodies with overrides (shaped like Allegro's API reference examples), and
the respx-facing client factory the offer adapter tests share."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from adapters.allegro import AllegroClient, build_allegro_client
from adapters.allegro.offer_change_limit import OfferChangeLimiters
from domain.money import Money
from domain.offers import BatchCommand, BatchKind, PublicationAction

from .fakes import API_URL, VENDOR, FakeTime, MemoryTokenStore, make_config, valid_pair

OFFER_ID = "17034458812"
OTHER_ID = "16988120455"
OFFERS_URL = f"{API_URL}/sale/offers"
EVENTS_URL = f"{API_URL}/sale/offer-events"
DEEP = b"[" * 100_000 + b"]" * 100_000
INT32_MAX = 2_147_483_647

_LISTED: dict[str, Any] = {
    "id": OFFER_ID,
    "name": "Konewka ogrodowa 10 l zielona z sitkiem",
    "category": {"id": "257931"},
    "sellingMode": {
        "format": "BUY_NOW",
        "price": {"amount": "39.99", "currency": "PLN"},
        "priceAutomation": None,
    },
    "saleInfo": {"currentPrice": None, "biddersCount": 0},
    "stock": {"available": 41, "sold": 17},
    "stats": None,
    "publication": {
        "status": "ACTIVE",
        "startingAt": None,
        "startedAt": "2026-01-09T11:20:05Z",
        "endingAt": None,
        "endedAt": None,
        "marketplaces": {"base": {"id": "allegro-pl"}, "additional": [{"id": "allegro-cz"}]},
    },
    "external": {"id": "KON-10L-GR"},
    "isFulfillment": False,
    "additionalMarketplaces": {
        "allegro-cz": {
            "publication": {"state": "APPROVED"},
            "sellingMode": {"price": {"amount": "229.00", "currency": "CZK"}},
            "stats": None,
            "stock": {"sold": 2},
        }
    },
}


def listed_json(**overrides: Any) -> dict[str, Any]:
    item = copy.deepcopy(_LISTED)
    item.update(overrides)
    return item


def product_offer_json(**overrides: Any) -> dict[str, Any]:
    item = listed_json()
    item["stock"] = {"available": 41, "unit": "UNIT"}
    item["publication"] = {
        "status": "ACTIVE",
        "duration": None,
        "endedBy": None,
        "republish": False,
        "marketplaces": {"base": {"id": "allegro-pl"}, "additional": [{"id": "allegro-cz"}]},
    }
    item["createdAt"] = "2026-01-09T11:20:00.000Z"
    item["updatedAt"] = "2026-03-14T09:12:40.118Z"
    item["validation"] = {"errors": [], "warnings": [], "validatedAt": None}
    item.update(overrides)
    return item


def offers_page(*offers: dict[str, Any], total: int | None = None) -> dict[str, Any]:
    return {
        "offers": list(offers),
        "count": len(offers),
        "totalCount": len(offers) if total is None else total,
    }


def event_json(
    event_id: str = "MTc3MzQ3OTY5ODAyMDMxNw",
    offer_id: str = OFFER_ID,
    event_type: str = "OFFER_STOCK_CHANGED",
    **overrides: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id,
        "occurredAt": "2026-03-14T09:12:40.118Z",
        "type": event_type,
        "offer": {"id": offer_id, "external": {"id": "KON-10L-GR"}},
    }
    event.update(overrides)
    return event


def report_json(
    command_id: uuid.UUID | str, total: int = 0, success: int = 0, failed: int = 0, **extra: Any
) -> dict[str, Any]:
    """A `GeneralReport`; `extra` adds or replaces top-level keys."""
    report: dict[str, Any] = {
        "id": str(command_id),
        "createdAt": "2026-03-14T09:00:00.000Z",
        "completedAt": None,
        "taskCount": {"total": total, "success": success, "failed": failed},
    }
    report.update(extra)
    return report


def task_json(offer_id: str = OFFER_ID, status: str | None = "SUCCESS", **overrides: Any) -> Any:
    task: dict[str, Any] = {
        "offer": {"id": offer_id},
        "field": "stock.available",
        "status": status,
        "message": None,
        "errors": [],
    }
    task.update(overrides)
    return task


def errors_body(code: str, message: str = "refused") -> dict[str, Any]:
    error = {"code": code, "message": message, "details": None, "path": None}
    return {"errors": [{**error, "userMessage": message, "metadata": {}}]}


def vendor(status: int, body: Any = None) -> httpx.Response:
    headers = {"Content-Type": VENDOR}
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


def raw(status: int, body: bytes) -> httpx.Response:
    return httpx.Response(status, content=body, headers={"Content-Type": VENDOR})


def quantity(offers: tuple[str, ...] = (OFFER_ID,), value: int = 7) -> BatchCommand:
    return BatchCommand.build("default", "p0:0-9", BatchKind.QUANTITY, offers, quantity=value)


def price(
    offers: tuple[str, ...] = (OFFER_ID,), amount: str = "12.50", marketplace: str | None = None
) -> BatchCommand:
    currency = "CZK" if marketplace == "allegro-cz" else "PLN"
    return BatchCommand.build(
        "default",
        "p0:0-9",
        BatchKind.PRICE,
        offers,
        price=Money.parse(amount, currency),
        marketplace=marketplace,
    )


def publication(
    offers: tuple[str, ...] = (OFFER_ID,), action: PublicationAction = PublicationAction.END
) -> BatchCommand:
    return BatchCommand.build("default", "p0:0-9", BatchKind.PUBLICATION, offers, action=action)


def command_url(command: BatchCommand) -> str:
    resource = {
        BatchKind.QUANTITY: "offer-quantity-change-commands",
        BatchKind.PRICE: "offer-price-change-commands",
        BatchKind.PUBLICATION: "offer-publication-commands",
    }[command.kind]
    return f"{API_URL}/sale/{resource}/{command.command_id}"


def client_factory(time: FakeTime, clients: list[AllegroClient]) -> Callable[..., AllegroClient]:
    """Clients on the real httpx transport (respx intercepts it) and fake time."""

    def build(offer_limiters: OfferChangeLimiters | None = None, **config: Any) -> AllegroClient:
        store = MemoryTokenStore({"default": valid_pair(time)})
        client = build_allegro_client(
            make_config(**config),
            store,
            clock=time,
            monotonic=time.monotonic,
            sleep=time.sleep,
            jitter=lambda ceiling: ceiling,
            offer_limiters=offer_limiters,
        )
        clients.append(client)
        return client

    return build
