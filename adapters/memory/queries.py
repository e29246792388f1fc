"""Read queries over the in-memory store (the same answers as the SQL read side)."""

from __future__ import annotations

from adapters.memory.store import MemoryStore
from core.domain.events import EventEnvelope
from core.domain.principals import Principal
from core.ports.queries import (
    OrderKey,
    OrderView,
    OutboxStatus,
    PrincipalView,
    ProductView,
    StockView,
    order_view,
    product_view,
    stock_view,
)
from core.ports.system import Clock


def _principal_view(p: Principal) -> PrincipalView:
    return PrincipalView(p.id, p.name, p.role.value, p.active, p.created_at, p.revoked_at)


class MemoryReadQueries:
    def __init__(self, store: MemoryStore, clock: Clock) -> None:
        self._s = store
        self._clock = clock

    def _product_view(self, sku: str) -> ProductView:
        p = self._s.products[sku]
        stock = self._s.stock.get(sku)
        return product_view(p, stock)

    def get_product(self, sku: str) -> ProductView | None:
        with self._s.lock:
            return self._product_view(sku) if sku in self._s.products else None

    def list_products(
        self, active: bool | None, after_sku: str | None, limit: int
    ) -> list[ProductView]:
        with self._s.lock:
            skus = sorted(
                sku
                for sku, p in self._s.products.items()
                if (active is None or p.active == active) and (after_sku is None or sku > after_sku)
            )
            return [self._product_view(sku) for sku in skus[:limit]]

    def get_stock(self, sku: str) -> StockView | None:
        with self._s.lock:
            item = self._s.stock.get(sku)
            if item is None:
                return None
            return stock_view(item)

    def get_order(self, order_id: str) -> OrderView | None:
        with self._s.lock:
            order = self._s.orders.get(order_id)
            return order_view(order) if order else None

    def list_orders(
        self,
        customer_id: str | None,
        status: str | None,
        before: OrderKey | None,
        limit: int,
    ) -> list[OrderView]:
        with self._s.lock:
            rows = [
                o
                for o in self._s.orders.values()
                if (customer_id is None or o.customer_id == customer_id)
                and (status is None or o.status.value == status)
                and (before is None or (o.created_at, o.id) < (before.created_at, before.id))
            ]
            rows.sort(key=lambda o: (o.created_at, o.id), reverse=True)
            return [order_view(o) for o in rows[:limit]]

    def order_events(self, order_id: str) -> list[EventEnvelope]:
        with self._s.lock:
            return [r.envelope for r in self._s.outbox if r.envelope.subject == order_id]

    def list_principals(self) -> list[PrincipalView]:
        with self._s.lock:
            principals = sorted(self._s.principals.values(), key=lambda p: p.name)
            return [_principal_view(p) for p in principals]

    def principal_by_key_hash(self, key_hash: str) -> PrincipalView | None:
        with self._s.lock:
            for p in self._s.principals.values():
                if p.key_hash == key_hash:
                    return _principal_view(p)
            return None

    def principal_by_name(self, name: str) -> PrincipalView | None:
        with self._s.lock:
            for p in self._s.principals.values():
                if p.name == name:
                    return _principal_view(p)
            return None

    def outbox_status(self) -> OutboxStatus:
        with self._s.lock:
            pending = [r for r in self._s.outbox if not r.sent]
            if not pending:
                return OutboxStatus(0, None)
            age = (self._clock.now() - pending[0].created_at).total_seconds()
            return OutboxStatus(len(pending), max(age, 0.0))

    def ping(self) -> None:
        return None
