"""Request and response bodies of the HTTP API (msgspec Structs).

Request structs carry the constraints of docs/domain.md, so that malformed input
is refused with 422 before it reaches the core; they forbid unknown fields so a
misspelt field is an error rather than a silent no-op. The core validates again:
these constraints are the API's documented contract, not the rule's only home.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from operator import attrgetter
from typing import Annotated, Any, ClassVar, Self, TypeVar

import msgspec
from msgspec import Meta

from core.domain.catalog import NAME_MAX, SKU_PATTERN, SKU_RULE
from core.domain.limits import MAX_LINES, MAX_PRICE, MAX_QUANTITY, MAX_STOCK
from core.domain.orders import CancelReason, OrderStatus
from core.domain.stock import REASON_MAX
from core.domain.text import TEXT_PATTERN

# The limits, patterns and enums are the core's: the CLI and the import read the same
# constants, so no entrypoint accepts what another refuses. The enums are named types so
# the OpenAPI document has one component per enum (a generated client gets one class).

Sku = Annotated[
    str,
    Meta(pattern=SKU_PATTERN.pattern, description=SKU_RULE, examples=["MUG-01"]),
]
NO_CONTROL = "not blank; no control characters (NUL, newline, ...)"
Name = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=NAME_MAX,
        pattern=TEXT_PATTERN,
        description=f"1-{NAME_MAX} characters, {NO_CONTROL}",
        examples=["Coffee mug"],
    ),
]
Price = Annotated[
    int, Meta(ge=0, le=MAX_PRICE, description="Minor units of the store currency", examples=[1250])
]
Quantity = Annotated[int, Meta(ge=1, le=MAX_QUANTITY)]
OnHand = Annotated[int, Meta(ge=0, le=MAX_STOCK)]
Delta = Annotated[
    int, Meta(ge=-MAX_STOCK, le=MAX_STOCK, description="Non-zero change of on_hand", examples=[5])
]
Reason = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=REASON_MAX,
        pattern=TEXT_PATTERN,
        description=f"1-{REASON_MAX} characters, {NO_CONTROL}",
        examples=["recount"],
    ),
]


class CreateProductIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    sku: Sku
    name: Name
    price: Price
    active: bool = True
    on_hand: OnHand = 0


class UpdateProductIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Only the fields present change; an empty object changes nothing."""

    name: Name | None = None
    price: Price | None = None
    active: bool | None = None


class SetStockIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    on_hand: OnHand


class AdjustStockIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    delta: Delta
    reason: Reason


class OrderLineIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    sku: Sku
    quantity: Quantity


class PlaceOrderIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    lines: Annotated[list[OrderLineIn], Meta(min_length=1, max_length=MAX_LINES)]


class ViewOut(msgspec.Struct, frozen=True):
    """A response body that is a core view row field for field: same names, same order.

    `of` reads the struct's fields off the view by name (one C-level attrgetter, cheaper
    than a hand-written copy), so there is no field list to keep in step; a unit test
    checks each struct against its view. Values go out as the view holds them: an order's
    lines stay view rows and its status a str, which msgspec encodes the same way.
    """

    _read: ClassVar[Callable[[Any], tuple[Any, ...]]]

    @classmethod
    def of(cls, view: Any) -> Self:
        return cls(*cls._read(view))


V = TypeVar("V", bound=type[ViewOut])


def of_view(cls: V) -> V:
    """Class decorator: bind `of` to the struct's fields (known once the class exists)."""
    cls._read = attrgetter(*cls.__struct_fields__)
    return cls


@of_view
class ProductOut(ViewOut, frozen=True):
    sku: str
    name: str
    price: int
    currency: str
    active: bool
    available: int
    created_at: datetime
    updated_at: datetime
    version: int


class ProductPage(msgspec.Struct, frozen=True):
    items: list[ProductOut]
    next_cursor: str | None


@of_view
class StockOut(ViewOut, frozen=True):
    sku: str
    on_hand: int
    reserved: int
    available: int


class OrderLineOut(msgspec.Struct, frozen=True):
    sku: str
    quantity: int
    unit_price: int
    line_total: int


@of_view
class OrderOut(ViewOut, frozen=True):
    id: str
    customer_id: str
    status: OrderStatus
    lines: list[OrderLineOut]
    total: int
    currency: str
    cancel_reason: CancelReason | None
    created_at: datetime
    updated_at: datetime
    version: int


class OrderPage(msgspec.Struct, frozen=True):
    items: list[OrderOut]
    next_cursor: str | None


@of_view
class EventOut(ViewOut, frozen=True):
    event_id: str
    type: str
    subject: str
    occurred_at: datetime
    correlation_id: str
    schema_version: int
    payload: dict[str, Any]


class EventList(msgspec.Struct, frozen=True):
    items: list[EventOut]


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class ShortageOut(msgspec.Struct, frozen=True):
    sku: str
    requested: int
    available: int


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    """RFC 9457 problem details, with Orderly's stable `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None
    shortages: list[ShortageOut] | None = None
    dependency: str | None = None


class HealthOut(msgspec.Struct, frozen=True):
    status: str
    checks: dict[str, str]
