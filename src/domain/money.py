"""Money on Decimal: Allegro sends amounts as strings, and so do we."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from domain.errors import InvalidValue

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_KNOWN_CURRENCIES: set[str] = set()  # codes that passed the check: a set lookup after that
_KNOWN_LIMIT = 512  # ISO 4217 has fewer than 200 codes; past this, check every time
_PARSED: dict[tuple[str, str], Money] = {}  # see `Money.parse`
_PARSED_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise InvalidValue(f"money amount must be a finite Decimal, got {self.amount!r}")
        if not isinstance(self.currency, str):
            raise InvalidValue(f"currency must be an ISO-4217 code, got {self.currency!r}")
        if self.currency in _KNOWN_CURRENCIES:
            return
        if not _CURRENCY.fullmatch(self.currency):
            raise InvalidValue(f"currency must be an ISO-4217 code, got {self.currency!r}")
        if len(_KNOWN_CURRENCIES) < _KNOWN_LIMIT:
            _KNOWN_CURRENCIES.add(self.currency)

    @classmethod
    def parse(cls, amount: str, currency: str) -> Money:
        """Parse Allegro's decimal string; `"70"` and `"70.00"` are both valid.

        A shop's prices repeat (an order holds about seven amounts): the same text gives
        the same (immutable) value, parsed once while it is among the last few thousand."""
        key = (amount, currency)
        try:
            known = _PARSED.get(key)
        except TypeError:  # unhashable, so not text: refused below
            known = None
        if known is not None:
            return known
        try:
            value = Decimal(amount)
        except (InvalidOperation, TypeError, ValueError) as exc:
            raise InvalidValue(f"money amount is not a decimal: {amount!r}") from exc
        money = cls(value, currency)
        if cls is Money and isinstance(amount, str):  # the currency was checked just above
            if len(_PARSED) >= _PARSED_LIMIT:
                _PARSED.clear()
            _PARSED[key] = money
        return money

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
