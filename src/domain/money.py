"""Money on Decimal: Allegro sends amounts as strings, and so do we."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from domain.errors import InvalidValue

_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise InvalidValue(f"money amount must be a finite Decimal, got {self.amount!r}")
        if not isinstance(self.currency, str) or not _CURRENCY.fullmatch(self.currency):
            raise InvalidValue(f"currency must be an ISO-4217 code, got {self.currency!r}")

    @classmethod
    def parse(cls, amount: str, currency: str) -> Money:
        """Parse Allegro's decimal string; `"70"` and `"70.00"` are both valid."""
        try:
            value = Decimal(amount)
        except (InvalidOperation, TypeError, ValueError) as exc:
            raise InvalidValue(f"money amount is not a decimal: {amount!r}") from exc
        return cls(value, currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"
