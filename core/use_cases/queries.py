"""Read use cases: products, stock, orders and an order's events, with access rules."""

from __future__ import annotations

from datetime import UTC, datetime

from core.domain.catalog import SKU_PATTERN, validate_sku
from core.domain.errors import FieldProblem, NotFound, ValidationError
from core.domain.events import EventEnvelope
from core.domain.orders import OrderStatus
from core.domain.text import is_plausible_id
from core.ports.queries import (
    OrderKey,
    OrderReader,
    OrderView,
    OutboxMonitor,
    OutboxStatus,
    Page,
    ProductReader,
    ProductView,
    StockView,
)
from core.use_cases.support import (
    DEFAULT_PAGE,
    Actor,
    decode_cursor,
    encode_cursor,
    require_plausible_order_id,
    validate_limit,
)


class ProductQueries:
    def __init__(self, queries: ProductReader) -> None:
        self._q = queries

    def get(self, sku: str) -> ProductView:
        view = self._q.get_product(sku)
        if view is None:
            raise NotFound(f"product {sku} not found")
        return view

    def page(
        self, active: bool | None = None, limit: int = DEFAULT_PAGE, cursor: str | None = None
    ) -> Page[ProductView]:
        validate_limit(limit)
        after = None
        if cursor is not None:
            after = decode_cursor(cursor).get("s")
            # A product cursor holds a SKU: anything else (NUL, a surrogate) was forged.
            if not isinstance(after, str) or not SKU_PATTERN.fullmatch(after):
                raise ValidationError(
                    "cursor is not one this service issued",
                    [FieldProblem("cursor", "must be a next_cursor from a products page")],
                )
        rows = self._q.list_products(active, after, limit + 1)
        items = rows[:limit]
        more = len(rows) > limit
        return Page(items, encode_cursor({"s": items[-1].sku}) if more else None)

    def stock(self, sku: str) -> StockView:
        validate_sku(sku)
        view = self._q.get_stock(sku)
        if view is None:
            raise NotFound(f"no stock item for {sku}")
        return view


class OrderQueries:
    def __init__(self, queries: OrderReader) -> None:
        self._q = queries

    def get(self, order_id: str, actor: Actor) -> OrderView:
        require_plausible_order_id(order_id)
        view = self._q.get_order(order_id)
        if view is None:
            raise NotFound(f"order {order_id} not found")
        actor.require_owner(view.customer_id, f"order {order_id}")
        return view

    def page(
        self,
        actor: Actor,
        status: str | None = None,
        customer_id: str | None = None,
        limit: int = DEFAULT_PAGE,
        cursor: str | None = None,
    ) -> Page[OrderView]:
        validate_limit(limit)
        if status is not None and status not in {s.value for s in OrderStatus}:
            allowed = ", ".join(s.value for s in OrderStatus)
            raise ValidationError(
                f"unknown status {status!r}: one of {allowed}",
                [FieldProblem("status", f"must be one of {allowed}")],
            )
        if customer_id is not None and not is_plausible_id(customer_id):
            raise ValidationError(
                "customer_id cannot be a principal id",
                [FieldProblem("customer_id", "must be 1-64 characters, no control characters")],
            )
        # Customers always see their own orders, whatever filter they pass.
        owner = customer_id if actor.is_admin else actor.principal_id
        before = None
        if cursor is not None:
            data = decode_cursor(cursor)
            try:
                created_at = datetime.fromisoformat(data["c"])
                if created_at.tzinfo is None:  # a forged cursor: naive times don't compare
                    raise ValueError("cursor time has no time zone")
                # A forged time at the edge of the calendar (0001-01-01T00:00:00+05:00)
                # overflows on the way to UTC: refuse it here, not in a driver.
                created_at = created_at.astimezone(UTC)
                order_id = data["i"]
                if not is_plausible_id(order_id):
                    raise ValueError("cursor id is not an order id")
                before = OrderKey(created_at, order_id)
            except (KeyError, TypeError, ValueError, OverflowError):
                raise ValidationError(
                    "cursor is not one this service issued",
                    [FieldProblem("cursor", "must be a next_cursor from an orders page")],
                ) from None
        rows = self._q.list_orders(owner, status, before, limit + 1)
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor({"c": last.created_at.isoformat(), "i": last.id})
        return Page(items, next_cursor)

    def events(self, order_id: str, actor: Actor) -> list[EventEnvelope]:
        self.get(order_id, actor)
        return self._q.order_events(order_id)


class OutboxQueries:
    def __init__(self, queries: OutboxMonitor) -> None:
        self._q = queries

    def status(self) -> OutboxStatus:
        return self._q.outbox_status()
