"""Fast JSON for the two big answers: journal pages and checkout-form pages.

Encoding is most of the simulator's work under load: these pages are its largest answers
(the figures are in docs/performance.md). Forms and the per-form part of every event are
immutable values shared between answers (see `forms.py`), so their encoding is cached by
identity; the output is byte-identical to `responses.encode` of the same body.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sandbox.allegro.forms import Json
from sandbox.allegro.responses import encode

_quote = json.encoder.encode_basestring  # a JSON string literal, ensure_ascii=False
_EVENT_KEYS = ("id", "type", "occurredAt", "order")
_ORDER_KEYS = ("seller", "buyer", "lineItems", "checkoutForm", "marketplace")
DEFAULT_LIMIT = 50_000


class RawJson(str):
    """A body served exactly as given, valid JSON or not: how a test makes the simulator
    send what no honest Allegro would (nesting past any parser, 5 000-digit numbers)."""

    __slots__ = ()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class EncodingCache:
    """Encoded JSON of immutable values, by identity, least recently used out first.

    An entry keeps its value alive, so its `id` cannot be reused while it is cached. Used by
    one server thread only (the one running the app that owns it).
    """

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("limit must be positive")
        self._limit = limit
        self._entries: OrderedDict[int, tuple[Any, str]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def text(self, value: Any) -> str:
        if isinstance(value, RawJson):
            return str(value)
        key = id(value)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is value:
            self._entries.move_to_end(key)
            return entry[1]
        text = _dumps(value)
        self._entries[key] = (value, text)
        if len(self._entries) > self._limit:
            self._entries.popitem(last=False)
        return text

    def events_page(self, events: Sequence[Json]) -> bytes:
        """`encode({"events": events})`, reusing the encoding of each form's shared part."""
        return ('{"events":[' + ",".join(self._event(e) for e in events) + "]}").encode()

    def forms_page(self, forms: Sequence[Json], total: int) -> bytes:
        """`encode({"checkoutForms": forms, "count": len(forms), "totalCount": total})`."""
        items = ",".join(self.text(form) for form in forms)
        return f'{{"checkoutForms":[{items}],"count":{len(forms)},"totalCount":{total}}}'.encode()

    def _event(self, event: Json) -> str:
        order = event.get("order")
        if (
            tuple(event) != _EVENT_KEYS
            or not isinstance(order, dict)
            or tuple(order) != _ORDER_KEYS
            or not all(isinstance(event[k], str) for k in ("id", "type", "occurredAt"))
        ):
            return encode(event).decode()  # not the shape `JournalEvent.render` makes
        return (
            f'{{"id":{_quote(event["id"])},"type":{_quote(event["type"])},'
            f'"occurredAt":{_quote(event["occurredAt"])},"order":{{'
            f'"seller":{self.text(order["seller"])},"buyer":{self.text(order["buyer"])},'
            f'"lineItems":{self.text(order["lineItems"])},'
            f'"checkoutForm":{_dumps(order["checkoutForm"])},'
            f'"marketplace":{self.text(order["marketplace"])}}}}}'
        )
