"""`CheckoutFormReader` over `GET /order/checkout-forms[/{id}]`."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from pydantic import ValidationError

from adapters.allegro.api import AllegroApi
from adapters.allegro.errors import MalformedResponse
from adapters.allegro.translate import (
    read_checkout_form,
    read_checkout_form_item,
    validation_reason,
)
from adapters.allegro.wire import CheckoutFormsWire
from application.ports.allegro import (
    CheckoutFormPage,
    CheckoutFormQuery,
    CheckoutFormReader,
    UnreadableCheckoutForm,
)
from application.ports.errors import AllegroRejected, CheckoutFormNotFound, MalformedCheckoutForm
from domain.order import OrderSnapshot

CHECKOUT_FORMS = "/order/checkout-forms"
CHECKOUT_FORM = "/order/checkout-forms/{id}"
MAX_PAGE_LIMIT = 100
MAX_WINDOW = 10_000  # Allegro answers 422 when offset + limit exceeds it


class HttpxCheckoutFormReader(CheckoutFormReader):
    def __init__(self, api: AllegroApi) -> None:
        self._api = api

    async def get(self, checkout_form_id: str) -> OrderSnapshot:
        result = read_checkout_form(await self.get_raw(checkout_form_id))
        if isinstance(result, UnreadableCheckoutForm):
            if result.checkout_form_id is None:
                result = UnreadableCheckoutForm(checkout_form_id, result.raw, result.reason)
            raise MalformedCheckoutForm(result)
        return result

    async def get_raw(self, checkout_form_id: str) -> str:
        path = f"{CHECKOUT_FORMS}/{quote(checkout_form_id, safe='')}"
        try:
            response = await self._api.request("GET", CHECKOUT_FORM, path)
        except AllegroRejected as exc:
            if exc.status_code == 404:
                raise CheckoutFormNotFound(checkout_form_id) from exc
            raise
        return response.text

    async def search(self, query: CheckoutFormQuery) -> CheckoutFormPage:
        body = await self._api.get_json(CHECKOUT_FORMS, CHECKOUT_FORMS, search_params(query))
        try:
            page = CheckoutFormsWire.model_validate(body)
        except ValidationError as exc:
            raise MalformedResponse(
                f"Allegro {CHECKOUT_FORMS}: unexpected body ({validation_reason(exc)})"
            ) from exc
        items = tuple(read_checkout_form_item(item) for item in page.checkout_forms)
        return CheckoutFormPage(items=items, total_count=page.total_count)


def search_params(query: CheckoutFormQuery) -> dict[str, str]:
    if not 1 <= query.limit <= MAX_PAGE_LIMIT:
        raise ValueError(f"limit must be within 1..{MAX_PAGE_LIMIT}, got {query.limit}")
    if query.offset < 0 or query.offset + query.limit > MAX_WINDOW:
        raise ValueError(
            f"offset + limit must stay within 0..{MAX_WINDOW} (got {query.offset} + "
            f"{query.limit}); slice by lineItems.boughtAt instead"
        )
    params = {"offset": str(query.offset), "limit": str(query.limit)}
    optional = {
        "sort": query.sort or None,
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
