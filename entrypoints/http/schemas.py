"""Request and response bodies of the HTTP API (msgspec Structs).

Request structs carry the constraints of docs/domain.md, so that malformed input
is refused with 422 before it reaches the core; they forbid unknown fields so a
misspelt field is an error rather than a silent no-op. The core validates again:
these constraints are the API's documented contract, not the rule's only home.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from core.domain.events import EventEnvelope
from core.domain.limits import MAX_LINES, MAX_PRICE, MAX_QUANTITY, MAX_STOCK
from core.domain.text import TEXT_PATTERN
from core.ports.queries import OrderView, ProductView, StockView

SKU_PATTERN = "^[A-Z0-9][A-Z0-9-]{1,31}$"
# The limits and the text rule are the core's (core.domain.limits, core.domain.text): the
# CLI and the import read the same constants, so no entrypoint accepts what another refuses.

Sku = Annotated[
    str,
    Meta(
        pattern=SKU_PATTERN,
        description="2-32 characters of A-Z, 0-9 and '-', starting with a letter or digit",
        examples=["MUG-01"],
    ),
]
NO_CONTROL = "not blank; no control characters (NUL, newline, ...)"
Name = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        pattern=TEXT_PATTERN,
        description=f"1-200 characters, {NO_CONTROL}",
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
        max_length=200,
        pattern=TEXT_PATTERN,
        description=f"1-200 characters, {NO_CONTROL}",
        examples=["recount"],
    ),
]
OrderStatusName = Literal["pending_payment", "paid", "shipped", "cancelled"]
CancelReasonName = Literal[
    "customer_request", "admin_request", "payment_declined", "payment_timeout"
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


class ProductOut(msgspec.Struct, frozen=True):
    sku: str
    name: str
    price: int
    currency: str
    active: bool
    available: int
    created_at: datetime
    updated_at: datetime
    version: int

    @staticmethod
    def of(view: ProductView) -> ProductOut:
        return ProductOut(
            view.sku,
            view.name,
            view.price,
            view.currency,
            view.active,
            view.available,
            view.created_at,
            view.updated_at,
            view.version,
        )


class ProductPage(msgspec.Struct, frozen=True):
    items: list[ProductOut]
    next_cursor: str | None


class StockOut(msgspec.Struct, frozen=True):
    sku: str
    on_hand: int
    reserved: int
    available: int

    @staticmethod
    def of(view: StockView) -> StockOut:
        return StockOut(view.sku, view.on_hand, view.reserved, view.available)


class OrderLineOut(msgspec.Struct, frozen=True):
    sku: str
    quantity: int
    unit_price: int
    line_total: int


class OrderOut(msgspec.Struct, frozen=True):
    id: str
    customer_id: str
    status: OrderStatusName
    lines: list[OrderLineOut]
    total: int
    currency: str
    cancel_reason: CancelReasonName | None
    created_at: datetime
    updated_at: datetime
    version: int

    @staticmethod
    def of(view: OrderView) -> OrderOut:
        return OrderOut(
            id=view.id,
            customer_id=view.customer_id,
            status=view.status,  # type: ignore[arg-type]
            lines=[
                OrderLineOut(ln.sku, ln.quantity, ln.unit_price, ln.line_total) for ln in view.lines
            ],
            total=view.total,
            currency=view.currency,
            cancel_reason=view.cancel_reason,  # type: ignore[arg-type]
            created_at=view.created_at,
            updated_at=view.updated_at,
            version=view.version,
        )


class OrderPage(msgspec.Struct, frozen=True):
    items: list[OrderOut]
    next_cursor: str | None


class EventOut(msgspec.Struct, frozen=True):
    event_id: str
    type: str
    subject: str
    occurred_at: datetime
    correlation_id: str
    schema_version: int
    payload: dict[str, Any]

    @staticmethod
    def of(envelope: EventEnvelope) -> EventOut:
        return EventOut(
            envelope.event_id,
            envelope.type,
            envelope.subject,
            envelope.occurred_at,
            envelope.correlation_id,
            envelope.schema_version,
            envelope.payload,
        )


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
