"""In-memory repositories: copies in, copies out, writes staged until commit."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Generic, TypeVar

from adapters.memory.cloning import clone
from core.domain.catalog import Product
from core.domain.events import EventRecorder
from core.domain.idempotency import IdempotencyRecord
from core.domain.orders import Order, OrderStatus
from core.domain.principals import Principal
from core.domain.stock import Reservation, StockItem
from core.ports.errors import ConcurrencyConflict, DuplicateIdempotencyKey

K = TypeVar("K")
V = TypeVar("V")


class StagedTable(Generic[K, V]):
    """Reads see this transaction's writes first; `flush` applies them to the store."""

    def __init__(self, committed: dict[K, V]) -> None:
        self.committed = committed
        self.loaded: dict[K, V] = {}
        self.written: dict[K, V] = {}
        self.deleted: set[K] = set()

    def get(self, key: K) -> V | None:
        if key in self.loaded:
            return self.loaded[key]
        if key in self.deleted and key not in self.written:
            return None
        value = self.written.get(key, self.committed.get(key))
        if value is None:
            return None
        mine = clone(value)
        self.loaded[key] = mine
        return mine

    def exists(self, key: K) -> bool:
        return key in self.written or (key in self.committed and key not in self.deleted)

    def write(self, key: K, value: V) -> None:
        self.loaded[key] = value
        self.written[key] = value

    def delete(self, key: K) -> None:
        self.loaded.pop(key, None)
        self.written.pop(key, None)
        self.deleted.add(key)

    def flush(self) -> None:
        for key in self.deleted:
            self.committed.pop(key, None)
        for key, value in self.written.items():
            self.committed[key] = clone(value)


Track = Callable[[EventRecorder], None]


class MemoryRepository(Generic[V]):
    """`get`, `add`, `save` and their batches for aggregates keyed by one attribute
    (`key`, a name: products by sku, orders by id, payments by order_id, ...)."""

    def __init__(
        self, table: StagedTable[str, V], key: str, noun: str, track: Callable[[V], None]
    ) -> None:
        self._t = table
        self._key = key
        self._noun = noun  # for messages: "product X exists"
        self._track = track

    def get(self, key: str) -> V | None:
        return self._t.get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, V]:
        return {key: item for key in keys if (item := self._t.get(key)) is not None}

    def add(self, item: V) -> None:
        key = getattr(item, self._key)
        if self._t.exists(key):
            raise ConcurrencyConflict(f"{self._noun} {key} exists")
        self._t.write(key, item)
        self._track(item)

    def save(self, item: V) -> None:
        key = getattr(item, self._key)
        if not self._t.exists(key):  # as in SQL: saving what is not stored is a lost race
            raise ConcurrencyConflict(f"{key!r} is not stored")
        self._t.write(key, item)
        self._track(item)

    def add_many(self, items: Sequence[V]) -> None:
        for item in items:
            self.add(item)

    def save_many(self, items: Sequence[V]) -> None:
        for item in items:
            self.save(item)


def untracked(_: object) -> None:
    """For aggregates that record no events (payments, principals)."""


class MemoryProductRepository(MemoryRepository[Product]):
    def __init__(self, table: StagedTable[str, Product], track: Track) -> None:
        super().__init__(table, "sku", "product", track)

    def get_many(self, keys: Iterable[str], lock: bool = True) -> dict[str, Product]:
        # One lock guards the whole store here: `lock` changes nothing.
        return super().get_many(keys)


class MemoryStockRepository(MemoryRepository[StockItem]):
    def __init__(self, table: StagedTable[str, StockItem], track: Track) -> None:
        super().__init__(table, "sku", "stock for", track)

    def get_many(self, keys: Iterable[str], lock: bool = True) -> dict[str, StockItem]:
        # One lock guards the whole store here: `lock` changes nothing.
        return super().get_many(keys)


class MemoryReservationRepository:
    """Each order's reservations stored together, under the order's id, so loading
    them is one lookup; callers get copies and write back through `add` and `save`."""

    def __init__(self, table: StagedTable[str, dict[str, Reservation]]) -> None:
        self._t = table

    def of_order(self, order_id: str) -> dict[str, Reservation]:
        return {sku: copy.copy(r) for sku, r in (self._t.get(order_id) or {}).items()}

    def add(self, reservation: Reservation) -> None:
        held = self._t.get(reservation.order_id) or {}
        if reservation.sku in held:
            raise ConcurrencyConflict(
                f"order {reservation.order_id} already holds a reservation on {reservation.sku}"
            )
        held[reservation.sku] = copy.copy(reservation)
        self._t.write(reservation.order_id, held)

    def save(self, reservation: Reservation) -> None:
        held = self._t.get(reservation.order_id) or {}
        if reservation.sku not in held:  # as in SQL: ended by another transaction
            raise ConcurrencyConflict(
                f"order {reservation.order_id} holds no reservation on {reservation.sku}"
            )
        if not reservation.ended:
            held[reservation.sku] = copy.copy(reservation)
            self._t.write(reservation.order_id, held)
            return
        del held[reservation.sku]
        if held:
            self._t.write(reservation.order_id, held)
        else:
            self._t.delete(reservation.order_id)


class MemoryOrderRepository(MemoryRepository[Order]):
    def __init__(self, table: StagedTable[str, Order], track: Track) -> None:
        super().__init__(table, "id", "order", track)

    def pending_before(self, cutoff: datetime, limit: int) -> list[str]:
        pending = sorted(
            (o.created_at, o.id)
            for o in self._t.committed.values()
            if o.status is OrderStatus.PENDING_PAYMENT and o.created_at < cutoff
        )
        return [order_id for _, order_id in pending[:limit]]


class MemoryPrincipalRepository(MemoryRepository[Principal]):
    def __init__(self, table: StagedTable[str, Principal]) -> None:
        super().__init__(table, "id", "principal", untracked)

    def _find(self, match: Callable[[Principal], bool]) -> Principal | None:
        for principal in [*self._t.written.values(), *self._t.committed.values()]:
            if match(principal):
                return self._t.get(principal.id)
        return None

    def get_by_name(self, name: str) -> Principal | None:
        return self._find(lambda p: p.name == name)

    def get_by_key_hash(self, key_hash: str) -> Principal | None:
        return self._find(lambda p: p.key_hash == key_hash)

    def add(self, principal: Principal) -> None:
        if self.get_by_name(principal.name) is not None:
            raise ConcurrencyConflict(f"principal {principal.name} exists")
        super().add(principal)


class MemoryIdempotencyRepository:
    def __init__(self, table: StagedTable[tuple[str, str], IdempotencyRecord]) -> None:
        self._t = table

    def get(self, principal_id: str, key: str) -> IdempotencyRecord | None:
        return self._t.get((principal_id, key))

    def add(self, record: IdempotencyRecord) -> None:
        if self._t.exists((record.principal_id, record.key)):
            raise DuplicateIdempotencyKey(record.key)
        self._t.write((record.principal_id, record.key), record)

    def purge_older_than(self, cutoff: datetime) -> int:
        old = [k for k, r in self._t.committed.items() if r.created_at < cutoff]
        for key in old:
            self._t.delete(key)
        return len(old)


class MemoryInbox:
    def __init__(self, committed: set[tuple[str, str]]) -> None:
        self._committed = committed
        self.staged: set[tuple[str, str]] = set()

    def seen(self, handler: str, event_id: str) -> bool:
        key = (handler, event_id)
        return key in self.staged or key in self._committed

    def add(self, handler: str, event_id: str) -> None:
        if self.seen(handler, event_id):
            raise ConcurrencyConflict(f"{handler} already processed {event_id}")
        self.staged.add((handler, event_id))

    def seen_many(self, handler: str, event_ids: Sequence[str]) -> set[str]:
        return {e for e in event_ids if self.seen(handler, e)}

    def add_many(self, handler: str, event_ids: Sequence[str]) -> None:
        if self.seen_many(handler, event_ids) or len(set(event_ids)) != len(event_ids):
            raise ConcurrencyConflict(f"{handler} already processed some of {len(event_ids)}")
        self.staged.update((handler, e) for e in event_ids)
