"""`CheckoutFormReader` over `GET /order/checkout-forms[/{id}]`."""

from __future__ import annotations

import functools
from collections.abc import Collection
from datetime import UTC, datetime

import httpx

from adapters.allegro.api import OVERSIZE_HEAD_BYTES, AllegroApi, decode_json, validate_body
from adapters.allegro.errors import OversizeBody
from adapters.allegro.identifiers import is_checkout_form_id
from adapters.allegro.translate import read_checkout_form, read_checkout_form_items
from adapters.allegro.wire import CHECKOUT_FORMS_PAGE
from application.ports.allegro import (
    LIST_OFFSET_WINDOW,
    LIST_PAGE_SIZE,
    CheckoutFormPage,
    CheckoutFormQuery,
    CheckoutFormReader,
    PurchaseOrder,
    UnreadableCheckoutForm,
)
from application.ports.errors import (
    AllegroRejected,
    CheckoutFormNotFound,
    MalformedBody,
    MalformedCheckoutForm,
)
from domain.order import OrderSnapshot

CHECKOUT_FORMS = "/order/checkout-forms"
CHECKOUT_FORM = "/order/checkout-forms/{id}"
# The port's purchase-time order in Allegro's `sort` syntax (a leading `-` is descending).
SORT_BY_PURCHASE: dict[PurchaseOrder, str] = {
    "oldest_first": "lineItems.boughtAt",
    "newest_first": "-lineItems.boughtAt",
}


class HttpxCheckoutFormReader(CheckoutFormReader):
    def __init__(self, api: AllegroApi) -> None:
        self._api = api

    async def get(self, checkout_form_id: str) -> OrderSnapshot:
        try:
            response = await self._read(checkout_form_id)
        except MalformedBody as exc:  # oversize, or a body that does not decode
            head = exc.head[:OVERSIZE_HEAD_BYTES] if isinstance(exc, OversizeBody) else b""
            raw = head.decode(errors="replace")
            unreadable = UnreadableCheckoutForm(checkout_form_id, raw, str(exc))
            raise MalformedCheckoutForm(unreadable) from exc
        result = read_checkout_form(response.content)
        if isinstance(result, OrderSnapshot) and result.id != checkout_form_id:
            result = UnreadableCheckoutForm(
                checkout_form_id, response.text, "the body is another checkout form's"
            )
        if isinstance(result, UnreadableCheckoutForm):
            if result.checkout_form_id != checkout_form_id:
                result = UnreadableCheckoutForm(checkout_form_id, result.raw, result.reason)
            raise MalformedCheckoutForm(result)
        return result

    async def get_raw(self, checkout_form_id: str) -> str:
        return (await self._read(checkout_form_id)).text

    async def _read(self, checkout_form_id: str) -> httpx.Response:
        if not is_checkout_form_id(checkout_form_id):  # never a path of another endpoint
            raise MalformedCheckoutForm(
                UnreadableCheckoutForm(checkout_form_id, "", "not a checkout form id")
            )
        path = f"{CHECKOUT_FORMS}/{checkout_form_id}"
        try:
            response = await self._api.request("GET", CHECKOUT_FORM, path)
        except AllegroRejected as exc:
            if exc.status_code == 404:
                raise CheckoutFormNotFound(checkout_form_id) from exc
            raise
        return response

    async def search(
        self, query: CheckoutFormQuery, *, wanted: Collection[str] | None = None
    ) -> CheckoutFormPage:
        response = await self._api.request(
            "GET", CHECKOUT_FORMS, CHECKOUT_FORMS, params=search_params(query)
        )
        page = validate_body(CHECKOUT_FORMS_PAGE, response, CHECKOUT_FORMS)
        # Decoded again only if an item breaks a domain rule: its dead letter keeps Allegro's text.
        items_as_sent = functools.cache(
            lambda: decode_json(response, CHECKOUT_FORMS)["checkoutForms"]
        )
        items = tuple(read_checkout_form_items(page, items_as_sent, wanted))
        return CheckoutFormPage(items=items, total_count=page["totalCount"])


def search_params(query: CheckoutFormQuery) -> dict[str, str]:
    if not 1 <= query.limit <= LIST_PAGE_SIZE:
        raise ValueError(f"limit must be within 1..{LIST_PAGE_SIZE}, got {query.limit}")
    if query.offset < 0 or query.offset + query.limit > LIST_OFFSET_WINDOW:
        raise ValueError(
            f"offset + limit must stay within 0..{LIST_OFFSET_WINDOW} (got {query.offset} + "
            f"{query.limit}); slice by lineItems.boughtAt instead"
        )
    params = {"offset": str(query.offset), "limit": str(query.limit)}
    optional = {
        "sort": SORT_BY_PURCHASE[query.order],
        "status": query.status,
        "fulfillment.status": query.fulfillment_status,
        "lineItems.boughtAt.gte": _instant(query.bought_at_gte),
        "lineItems.boughtAt.lte": _instant(query.bought_at_lte),
        "updatedAt.gte": _instant(query.updated_at_gte),
        "updatedAt.lte": _instant(query.updated_at_lte),
    }
    params.update({name: value for name, value in optional.items() if value is not None})
    return params


def _instant(value: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and Z (`2026-03-14T09:12:40.118Z`); naive means UTC."""
    if value is None:
        return None
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
