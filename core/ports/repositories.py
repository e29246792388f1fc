"""Repositories: aggregates in and out of storage, inside one unit of work.

Loads made through a unit of work are for changing: adapters lock what they
return (or check versions on save) so that two transactions never both act on
the same read. `save` raises ConcurrencyConflict when the stored version moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from core.domain.catalog import Product
from core.domain.idempotency import IdempotencyRecord
from core.domain.orders import Order
from core.domain.payments import Payment
from core.domain.principals import Principal
from core.domain.stock import Reservation, StockItem


class ProductRepository(Protocol):
    def get(self, sku: str) -> Product | None: ...

    def get_many(self, skus: Iterable[str], lock: bool = True) -> dict[str, Product]:
        """The products that exist among `skus`, by SKU, locked for change (one query).

        `lock=False` (placing an order, which only reads a product's price and flag):
        read without a row lock, as last committed. A product changed meanwhile
        counts as changed after the placement; a lock held to the placement's commit
        would queue every order of a hot SKU behind the one before, and deadlock
        with the foreign-key check of a stock update waiting for it."""
        ...

    def add(self, product: Product) -> None: ...
    def save(self, product: Product) -> None: ...


class StockRepository(Protocol):
    def get(self, sku: str) -> StockItem | None: ...

    def get_many(self, skus: Sequence[str], lock: bool = True) -> dict[str, StockItem]:
        """The stock items that exist among `skus`, by SKU, locked for change in SKU
        order (docs/decisions/0002-lock-order-by-sku.md), in one query.

        `lock=False` (placing an order): an adapter with row locks may read without
        them and apply a change to `reserved` at `save` as one conditional update, so
        the lock is held from that statement to commit only; if the stock moved so
        that the change no longer fits, the commit raises ConcurrencyConflict."""
        ...

    def add(self, item: StockItem) -> None: ...
    def save(self, item: StockItem) -> None: ...


class ReservationRepository(Protocol):
    """Reservations are stored one per (order, SKU) and loaded by order: a command
    acting on an order (cancel, ship, expire) loads that order's only."""

    def of_order(self, order_id: str) -> dict[str, Reservation]:
        """The reservations `order_id` holds, by SKU (one query; nothing is locked:
        the order's own row lock serialises the commands that end them)."""
        ...

    def add(self, reservation: Reservation) -> None:
        """Store a new one; ConcurrencyConflict (now or at commit) if the order already
        holds one on that SKU."""
        ...

    def save(self, reservation: Reservation) -> None:
        """Store its quantity, or remove it once it has ended (released or shipped);
        ConcurrencyConflict (now or at commit) if it is no longer stored, so two
        transactions can never both give the same reservation back."""
        ...


class OrderRepository(Protocol):
    def get(self, order_id: str) -> Order | None: ...

    def get_many(self, order_ids: Sequence[str]) -> dict[str, Order]:
        """The orders that exist among `order_ids`, by id, locked like `get` (one query)."""
        ...

    def add(self, order: Order) -> None: ...
    def save(self, order: Order) -> None: ...

    def save_many(self, orders: Sequence[Order]) -> None:
        """`save` for several (one statement on SQL); ConcurrencyConflict if any moved on."""
        ...

    def pending_before(self, cutoff: datetime, limit: int) -> list[str]:
        """Ids of orders still pending payment that were placed before `cutoff`."""
        ...


class PaymentRepository(Protocol):
    def get(self, order_id: str) -> Payment | None: ...

    def get_many(self, order_ids: Sequence[str]) -> dict[str, Payment]:
        """The payments that exist among `order_ids`, by order id (one query)."""
        ...

    def add(self, payment: Payment) -> None: ...
    def save(self, payment: Payment) -> None: ...
    def add_many(self, payments: Sequence[Payment]) -> None: ...
    def save_many(self, payments: Sequence[Payment]) -> None: ...


class PrincipalRepository(Protocol):
    def get(self, principal_id: str) -> Principal | None: ...
    def get_by_name(self, name: str) -> Principal | None: ...
    def get_by_key_hash(self, key_hash: str) -> Principal | None: ...
    def add(self, principal: Principal) -> None: ...
    def save(self, principal: Principal) -> None: ...


class IdempotencyRepository(Protocol):
    def get(self, principal_id: str, key: str) -> IdempotencyRecord | None: ...

    def add(self, record: IdempotencyRecord) -> None:
        """Store a record; DuplicateIdempotencyKey (now or at commit) if one exists."""
        ...

    def purge_older_than(self, cutoff: datetime) -> int: ...


class Inbox(Protocol):
    """Which events each handler has already processed (the consumer side of exactly-once)."""

    def seen(self, handler: str, event_id: str) -> bool: ...
    def add(self, handler: str, event_id: str) -> None: ...

    def seen_many(self, handler: str, event_ids: Sequence[str]) -> set[str]:
        """Which of `event_ids` `handler` has processed (one query)."""
        ...

    def add_many(self, handler: str, event_ids: Sequence[str]) -> None:
        """Record several at once; ConcurrencyConflict if any was recorded already."""
        ...
