"""In-memory unit of work with real rollback: nothing reaches the store before commit."""

from __future__ import annotations

from typing import Any

from adapters.memory.repositories import (
    MemoryIdempotencyRepository,
    MemoryInbox,
    MemoryOrderRepository,
    MemoryPrincipalRepository,
    MemoryProductRepository,
    MemoryRepository,
    MemoryReservationRepository,
    MemoryStockRepository,
    StagedTable,
    untracked,
)
from adapters.memory.store import MemoryStore, OutboxRow
from adapters.tracing import otel
from core.domain.events import EventEnvelope
from core.ports.system import Clock, IdGenerator
from core.ports.unit_of_work import AfterCommit, BoundUnitOfWorkFactory, UnitOfWork


class MemoryUnitOfWork(UnitOfWork):
    def __init__(
        self,
        store: MemoryStore,
        ids: IdGenerator,
        clock: Clock,
        after_commit: AfterCommit | None = None,
    ) -> None:
        super().__init__(ids, after_commit)
        self._store = store
        self._clock = clock
        self._locked = False

    def _begin(self) -> None:
        self._store.lock.acquire()
        self._locked = True
        s = self._store
        self._tables: list[StagedTable[Any, Any]] = [
            StagedTable(s.products),
            StagedTable(s.stock),
            StagedTable(s.reservations),
            StagedTable(s.orders),
            StagedTable(s.payments),
            StagedTable(s.principals),
            StagedTable(s.idempotency),
        ]
        products, stock, reservations, orders, payments, principals, idem = self._tables
        self.products = MemoryProductRepository(products, self.tracked.add)
        self.stock = MemoryStockRepository(stock, self.tracked.add)
        self.reservations = MemoryReservationRepository(reservations)
        self.orders = MemoryOrderRepository(orders, self.tracked.add)
        self.payments = MemoryRepository(payments, "order_id", "payment for", untracked)
        self.principals = MemoryPrincipalRepository(principals)
        self.idempotency = MemoryIdempotencyRepository(idem)
        self._inbox = MemoryInbox(s.inbox)
        self.inbox = self._inbox
        self._outbox: list[EventEnvelope] = []

    def _write_outbox(self, envelopes: list[EventEnvelope]) -> None:
        self._outbox.extend(envelopes)
        trace = otel.current_traceparent()  # None with tracing off
        for envelope in envelopes:
            otel.remember(envelope.event_id, trace)

    def _commit(self) -> None:
        for table in self._tables:
            table.flush()
        self._store.inbox.update(self._inbox.staged)
        now = self._clock.now()
        for envelope in self._outbox:
            self._store.outbox.append(OutboxRow(len(self._store.outbox) + 1, envelope, now))

    def _rollback(self) -> None:
        self._tables.clear()

    def _close(self) -> None:
        if self._locked:
            self._locked = False
            self._store.lock.release()


class MemoryUnitOfWorkFactory(BoundUnitOfWorkFactory[MemoryStore]):
    unit_of_work = MemoryUnitOfWork
