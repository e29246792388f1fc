"""Products of the catalogue."""

from __future__ import annotations

import re
from datetime import datetime

from core.domain.errors import FieldProblem, ValidationError
from core.domain.events import EventRecorder, ProductCreated, ProductUpdated
from core.domain.money import Money

SKU_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
NAME_MAX = 200


def validate_sku(sku: str, field: str = "sku") -> str:
    if not isinstance(sku, str) or not SKU_PATTERN.fullmatch(sku):
        raise ValidationError(
            f"invalid SKU {sku!r}: 2-32 characters of A-Z, 0-9 and '-', "
            "starting with a letter or digit",
            [
                FieldProblem(
                    field, "must be 2-32 characters of A-Z, 0-9, '-', not starting with '-'"
                )
            ],
        )
    return sku


def is_text(value: str) -> bool:
    """A lone surrogate (legal in JSON as "\\ud800") is not text: no storage can encode it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_name(name: str) -> str:
    if (
        not isinstance(name, str)
        or not (1 <= len(name) <= NAME_MAX)
        or not name.strip()
        or not is_text(name)
    ):
        raise ValidationError(
            f"invalid product name: 1-{NAME_MAX} characters, not blank",
            [FieldProblem("name", f"must be 1-{NAME_MAX} characters and not blank")],
        )
    return name


def validate_price(price: int) -> int:
    if isinstance(price, bool) or not isinstance(price, int) or price < 0:
        raise ValidationError(
            f"invalid price {price!r}: an integer number of minor units >= 0",
            [FieldProblem("price", "must be an integer >= 0 (minor units)")],
        )
    return price


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
        self.name = validate_name(name)
        validate_price(price.amount)
        self.price = price
        self.active = validate_active(active)
        self.version = version
        self.created_at = created_at
        self.updated_at = updated_at

    @classmethod
    def create(cls, sku: str, name: str, price: Money, active: bool, now: datetime) -> Product:
        product = cls(sku, name, price, active, version=1, created_at=now, updated_at=now)
        product.record(
            ProductCreated(
                occurred_at=now,
                sku=sku,
                name=name,
                price=price.amount,
                currency=price.currency,
                active=active,
            )
        )
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
