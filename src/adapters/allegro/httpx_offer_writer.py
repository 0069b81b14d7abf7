"""`OfferWriter` over Allegro's batch offer commands (Allegro's API reference: batch commands):
`PUT /sale/offer-quantity-change-commands/{id}`, `PUT /sale/offer-price-change-commands/{id}`
and `PUT /sale/offer-publication-commands/{id}`, their reports (`GET .../{id}`) and tasks
(`GET .../{id}/tasks`).

Every call goes through `AllegroApi` (the one budget, the 429 block, retries, the token
refresh, the body limit). A `PUT` is idempotent by its command id: Allegro applies an id
once and answers `409` ("already used") to it afterwards. So, unlike a shipment `POST`, a
`PUT` that timed out or got a 5xx is sent again: if the first one was applied, the second
answers `409`, which means sent.

Allegro's per-user limits on offer changes (offer_change_limit.py) are honoured here by
waiting before the `PUT`: a command takes its offers from its kind's limiter once per
`send` (a repeat of the same `PUT` inside `AllegroApi` takes none: Allegro applies an id
once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from adapters.allegro.api import AllegroApi, validate_body
from adapters.allegro.errors import MalformedResponse
from adapters.allegro.offer_change_limit import OfferChangeLimiter
from adapters.allegro.translate_offers import command_report, task_report
from adapters.allegro.wire_offers import GENERAL_REPORT, TASKS
from application.ports.errors import AllegroRejected
from application.ports.offers import CommandReport, OfferWriter, TaskReport
from domain.offers import MAX_OFFERS_PER_COMMAND, BatchCommand, BatchKind, is_offer_id

RESOURCES: Mapping[BatchKind, str] = {
    BatchKind.QUANTITY: "/sale/offer-quantity-change-commands",
    BatchKind.PRICE: "/sale/offer-price-change-commands",
    BatchKind.PUBLICATION: "/sale/offer-publication-commands",
}
_CENT = Decimal("0.01")


class HttpxOfferWriter(OfferWriter):
    def __init__(
        self, api: AllegroApi, *, limiters: Mapping[BatchKind, OfferChangeLimiter]
    ) -> None:
        """`limiters`: the per-user limit on offer changes of each kind (a kind without one
        is sent without waiting)."""
        self._api = api
        self._limiters = dict(limiters)

    async def send(self, command: BatchCommand) -> bool:
        body = command_body(command)
        limiter = self._limiters.get(command.kind)
        if limiter is not None:
            await limiter.acquire(len(command.offer_ids))
        endpoint = f"{RESOURCES[command.kind]}/{{id}}"
        try:
            await self._api.request("PUT", endpoint, _path(command), json_body=body)
        except AllegroRejected as exc:
            if exc.status_code == 409:  # the id was used: by this batch, sent before
                return False
            raise
        return True

    async def report(self, command: BatchCommand) -> CommandReport:
        endpoint = f"{RESOURCES[command.kind]}/{{id}}"
        response = await self._api.request("GET", endpoint, _path(command))
        report = validate_body(GENERAL_REPORT, response, endpoint)
        if report.get("id") not in (None, str(command.command_id)):
            raise MalformedResponse(f"Allegro {endpoint}: the report is another command's")
        return command_report(report)

    async def tasks(self, command: BatchCommand) -> Sequence[TaskReport]:
        endpoint = f"{RESOURCES[command.kind]}/{{id}}/tasks"
        params = {"limit": str(MAX_OFFERS_PER_COMMAND), "offset": "0"}
        response = await self._api.request(
            "GET", endpoint, f"{_path(command)}/tasks", params=params
        )
        return [task_report(task) for task in validate_body(TASKS, response, endpoint)["tasks"]]


def _path(command: BatchCommand) -> str:
    return f"{RESOURCES[command.kind]}/{command.command_id}"


def command_body(command: BatchCommand) -> dict[str, Any]:
    """The `PUT` body, in Allegro's words; one criteria entry names every offer (<= 1 000).
    An offer id of another shape is refused before anything is sent (it came from Allegro's
    listing, so it is not one of Allegro's)."""
    bad = next((offer_id for offer_id in command.offer_ids if not is_offer_id(offer_id)), None)
    if bad is not None:
        raise ValueError(f"{bad[:40]!r} is not an offer id")
    criteria = [{"type": "CONTAINS_OFFERS", "offers": [{"id": i} for i in command.offer_ids]}]
    if command.kind is BatchKind.QUANTITY:
        modification: dict[str, Any] = {"changeType": "FIXED", "value": command.quantity}
        return {"modification": modification, "offerCriteria": criteria}
    if command.kind is BatchKind.PRICE:
        assert command.price is not None  # BatchCommand's invariant
        amount = command.price.amount
        if amount != amount.quantize(_CENT):
            raise ValueError(f"a price has at most 2 digits after the point, got {amount}")
        price = {"amount": f"{amount:.2f}", "currency": command.price.currency}
        modification = {"type": "FIXED_PRICE", "price": price}
        if command.marketplace is not None:  # omitted: the offer's base marketplace
            modification["marketplaceId"] = command.marketplace
        return {"modification": modification, "offerCriteria": criteria}
    assert command.action is not None  # BatchCommand's invariant
    return {"publication": {"action": str(command.action)}, "offerCriteria": criteria}
