"""Products of the catalogue."""

from __future__ import annotations

import re
from datetime import datetime

from core.domain.errors import FieldProblem, ValidationError
from core.domain.events import EventRecorder, ProductCreated, ProductUpdated
from core.domain.limits import MAX_PRICE
from core.domain.money import Money
from core.domain.text import is_nonblank_text

SKU_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
SKU_RULE = "2-32 characters of A-Z, 0-9 and '-', starting with a letter or digit"
NAME_MAX = 200


def validate_sku(sku: str, field: str = "sku") -> str:
    if not isinstance(sku, str) or not SKU_PATTERN.fullmatch(sku):
        raise ValidationError(
            f"invalid SKU {sku!r}: {SKU_RULE}",
            [
                FieldProblem(
                    field, "must be 2-32 characters of A-Z, 0-9, '-', not starting with '-'"
                )
            ],
        )
    return sku


def validate_name(name: str) -> str:
    if not isinstance(name, str) or not (1 <= len(name) <= NAME_MAX) or not is_nonblank_text(name):
        raise ValidationError(
            f"invalid product name: 1-{NAME_MAX} characters, not blank, no control characters",
            [
                FieldProblem(
                    "name", f"must be 1-{NAME_MAX} characters, not blank, no control characters"
                )
            ],
        )
    return name


def _check_price(price: int, high: int | None) -> int:
    if (
        isinstance(price, bool)
        or not isinstance(price, int)
        or price < 0
        or (high is not None and price > high)
    ):
        bound = f"0-{high}" if high is not None else ">= 0"
        raise ValidationError(
            f"invalid price {price!r}: an integer number of minor units, {bound}",
            [FieldProblem("price", f"must be an integer {bound} (minor units)")],
        )
    return price


def validate_price(price: int) -> int:
    """A price a product may be given: 0-10^12 minor units (docs/domain.md)."""
    return _check_price(price, MAX_PRICE)


def validate_active(active: bool) -> bool:
    if not isinstance(active, bool):
        raise ValidationError(
            f"invalid active flag {active!r}: true or false",
            [FieldProblem("active", "must be a boolean")],
        )
    return active


class Product(EventRecorder):
    def __init__(
        self,
        sku: str,
        name: str,
        price: Money,
        active: bool = True,
        version: int = 1,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> None:
        super().__init__()
        self.sku = validate_sku(sku)
        if not isinstance(name, str) or not name:
            raise ValidationError("a product has a name")
        self.name = name
        # Loading is lenient about the rules added later (no control characters, the price
        # cap): a row stored before them must still load, to be renamed or repriced;
        # creating, renaming and repricing enforce them.
        _check_price(price.amount, None)
        self.price = price
        self.active = validate_active(active)
        self.version = version
        self.created_at = created_at
        self.updated_at = updated_at

    @classmethod
    def create(cls, sku: str, name: str, price: Money, active: bool, now: datetime) -> Product:
        validate_name(name)
        validate_price(price.amount)
        product = cls(sku, name, price, active, version=1, created_at=now, updated_at=now)
        # Positional (occurred_at, sku, name, price, currency, active), as in
        # StockItem.set_on_hand: an import records one a row.
        product.record(ProductCreated(now, sku, name, price.amount, price.currency, active))
        return product

    def update(
        self,
        now: datetime,
        name: str | None = None,
        price: int | None = None,
        active: bool | None = None,
    ) -> bool:
        """Apply the given changes; returns False (and records nothing) when nothing changed."""
        changes: dict[str, object] = {}
        if name is not None and name != self.name:
            self.name = validate_name(name)
            changes["name"] = name
        if price is not None and price != self.price.amount:
            self.price = Money(validate_price(price), self.price.currency)
            changes["price"] = price
        if active is not None and validate_active(active) != self.active:
            self.active = active
            changes["active"] = active
        if not changes:
            return False
        self.version += 1
        self.updated_at = now
        self.record(ProductUpdated(occurred_at=now, sku=self.sku, changes=changes))
        return True
