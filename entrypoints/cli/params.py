"""Argument types: a malformed argument is bad usage (exit 2), caught before any work.

The rules are the core's own validators, so the CLI can never disagree with the API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import click

from core.domain.catalog import validate_name, validate_sku
from core.domain.errors import ValidationError
from core.domain.limits import MAX_PRICE, MAX_STOCK
from core.domain.principals import validate_principal_name

# The limits of docs/domain.md, the same constants the HTTP schemas and the core use:
# a price the API would refuse is refused here too, with the same bound in the message.
MAX_AMOUNT = MAX_PRICE
MAX_QUANTITY = MAX_STOCK

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?[0-9]*[.,][0-9]+")


def parse_integer(text: str, what: str, low: int, high: int, minor_units: bool = False) -> int:
    """Strict ASCII integer parsing with messages that say how to fix the value."""
    raw = text.strip()
    if not raw:
        raise ValueError(f"{what} is empty")
    # Plain ASCII digits (almost every CSV cell) need no pattern; isdigit alone would
    # also take other scripts' digits, which the pattern refuses.
    if not (raw.isascii() and raw.isdigit()) and not _INTEGER.fullmatch(raw):
        if minor_units and _DECIMAL.fullmatch(raw):
            raise ValueError(
                f"{what} {raw!r} is not in minor units: write a whole number of the "
                "currency's smallest unit, e.g. 1250 for 12.50"
            )
        raise ValueError(f"{what} {raw!r} is not an integer")
    value = int(raw)
    if value > high:
        raise ValueError(f"{what} {value} is too large (at most {high})")
    if value < low:
        raise ValueError(f"{what} {value} must be >= {low}")
    return value


class _Validated(click.ParamType[str]):
    """A string checked by a core validator."""

    def __init__(self, name: str, validate: Callable[[str], str]) -> None:
        self.name = name
        self._validate = validate

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return self._validate(str(value))
        except ValidationError as exc:
            self.fail(exc.detail, param, ctx)


class _Integer(click.ParamType[int]):
    def __init__(
        self, name: str, low: int, high: int, minor_units: bool = False, nonzero: bool = False
    ) -> None:
        self.name = name
        self._low, self._high = low, high
        self._minor_units = minor_units
        self._nonzero = nonzero

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        what = self.name
        try:
            number = parse_integer(str(value), what, self._low, self._high, self._minor_units)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if self._nonzero and number == 0:
            self.fail(f"{what} must not be 0", param, ctx)
        return number


SKU = _Validated("sku", validate_sku)
PRODUCT_NAME = _Validated("name", validate_name)
PRINCIPAL_NAME = _Validated("name", validate_principal_name)
PRICE = _Integer("price", 0, MAX_AMOUNT, minor_units=True)
QUANTITY = _Integer("count", 0, MAX_QUANTITY)
DELTA = _Integer("delta", -MAX_QUANTITY, MAX_QUANTITY, nonzero=True)
