"""Read side (CQRS-lite): view rows straight from storage, no aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from core.domain.catalog import Product
from core.domain.events import EventEnvelope
from core.domain.orders import Order
from core.domain.stock import StockItem

T = TypeVar("T")


@dataclass(frozen=True)
class OrderLineView:
    sku: str
    quantity: int
    unit_price: int
    line_total: int


@dataclass(frozen=True)
class OrderView:
    id: str
    customer_id: str
    status: str
    lines: list[OrderLineView]
    total: int
    currency: str
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime
    version: int


def order_view(order: Order) -> OrderView:
    """The view row of an aggregate (the memory adapter and replays build it this way)."""
    return OrderView(
        id=order.id,
        customer_id=order.customer_id,
        status=order.status.value,
        lines=[
            OrderLineView(ln.sku, ln.quantity, ln.unit_price, ln.line_total) for ln in order.lines
        ],
        total=order.total.amount,
        currency=order.currency,
        cancel_reason=order.cancel_reason.value if order.cancel_reason else None,
        created_at=order.created_at,
        updated_at=order.updated_at,
        version=order.version,
    )


@dataclass(frozen=True)
class ProductView:
    sku: str
    name: str
    price: int
    currency: str
    active: bool
    available: int
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True)
class StockView:
    sku: str
    on_hand: int
    reserved: int
    available: int


def product_view(product: Product, stock: StockItem | None) -> ProductView:
    """The view of a product and its stock item, as a command leaves them."""
    assert product.created_at is not None and product.updated_at is not None
    return ProductView(
        sku=product.sku,
        name=product.name,
        price=product.price.amount,
        currency=product.price.currency,
        active=product.active,
        available=stock.available if stock is not None else 0,
        created_at=product.created_at,
        updated_at=product.updated_at,
        version=product.version,
    )


def stock_view(item: StockItem) -> StockView:
    return StockView(item.sku, item.on_hand, item.reserved, item.available)


@dataclass(frozen=True)
class PrincipalView:
    id: str
    name: str
    role: str
    active: bool
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class OrderKey:
    """Keyset position in the newest-first order listing."""

    created_at: datetime
    id: str


@dataclass(frozen=True)
class OutboxStatus:
    backlog: int
    oldest_age_seconds: float | None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


class ProductReader(Protocol):
    """Products and their stock, for the product and stock queries."""

    def get_product(self, sku: str) -> ProductView | None: ...

    def list_products(
        self, active: bool | None, after_sku: str | None, limit: int
    ) -> list[ProductView]:
        """Products ordered by SKU, strictly after `after_sku`, at most `limit`."""
        ...

    def get_stock(self, sku: str) -> StockView | None: ...


class OrderReader(Protocol):
    """Orders and their event history, for the order queries."""

    def get_order(self, order_id: str) -> OrderView | None: ...

    def list_orders(
        self,
        customer_id: str | None,
        status: str | None,
        before: OrderKey | None,
        limit: int,
    ) -> list[OrderView]:
        """Orders newest first (created_at, id descending), strictly before `before`."""
        ...

    def order_events(self, order_id: str) -> list[EventEnvelope]:
        """The order's events, oldest first."""
        ...


class PrincipalReader(Protocol):
    """Principals, for authentication and the operators' principal commands."""

    def list_principals(self) -> list[PrincipalView]: ...

    def principal_by_key_hash(self, key_hash: str) -> PrincipalView | None: ...

    def principal_by_name(self, name: str) -> PrincipalView | None: ...


class OutboxMonitor(Protocol):
    """The delivery backlog, for `orderly outbox status` and the outbox gauges."""

    def outbox_status(self) -> OutboxStatus: ...


class HealthCheck(Protocol):
    """Whether storage answers, for readiness."""

    def ping(self) -> None:
        """Raise DependencyUnavailable when storage cannot answer."""
        ...


class ReadQueries(
    ProductReader, OrderReader, PrincipalReader, OutboxMonitor, HealthCheck, Protocol
):
    """Everything one storage adapter's read side serves. No use case or entrypoint
    depends on it (each takes the narrow port above it uses); it names what the
    contract suite checks on every storage and what the container builds once."""
