"""Money: integer minor units and an ISO 4217 code. Never floats."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.domain.errors import ValidationError

_CURRENCY = re.compile(r"^[A-Z]{3}$")


def validate_currency(code: str) -> str:
    if not _CURRENCY.fullmatch(code):
        raise ValidationError(f"currency must be a 3-letter ISO 4217 code, got {code!r}")
    return code


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise ValidationError("money amounts are integers in minor units")
        validate_currency(self.currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValidationError(f"cannot mix {self.currency} and {other.currency}")

    @staticmethod
    def zero(currency: str) -> Money:
        return Money(0, currency)
