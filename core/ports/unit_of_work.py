"""The unit of work: one transaction, its repositories, and its outbox.

On commit it pulls the events every touched aggregate recorded, stamps each
with an id and the correlation id (the one in effect when the unit of work was
opened, core/ports/correlation.py), and writes them to the outbox in the same
transaction as the state change (transactional outbox). Leaving the `with`
block without commit rolls everything back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Generic, Protocol, TypeVar

from core.domain.events import EventEnvelope, EventRecorder
from core.domain.text import is_correlation_id
from core.ports.correlation import current_correlation_id
from core.ports.repositories import (
    IdempotencyRepository,
    Inbox,
    OrderRepository,
    PaymentRepository,
    PrincipalRepository,
    ProductRepository,
    ReservationRepository,
    StockRepository,
)
from core.ports.system import Clock, IdGenerator

AfterCommit = Callable[[list[EventEnvelope]], None]


class Tracked:
    """The aggregates a unit of work's repositories added or saved (`add` is what
    they are handed). It is an object apart so that no repository points back at
    the unit of work: that reference cycle kept every object of a transaction alive
    until the garbage collector's next pass, which then had all of them to scan."""

    __slots__ = ("_ids", "aggregates")

    def __init__(self) -> None:
        self.aggregates: list[EventRecorder] = []
        # Identities of the tracked aggregates: a batch tracks thousands, and a linear
        # scan per call made a bulk import quadratic. They stay alive in `aggregates`,
        # so an id() is never reused while it is in this set.
        self._ids: set[int] = set()

    def add(self, aggregate: EventRecorder) -> None:
        key = id(aggregate)
        if key not in self._ids:
            self._ids.add(key)
            self.aggregates.append(aggregate)


class UnitOfWork(ABC):
    products: ProductRepository
    stock: StockRepository
    reservations: ReservationRepository
    orders: OrderRepository
    payments: PaymentRepository
    principals: PrincipalRepository
    idempotency: IdempotencyRepository
    inbox: Inbox

    def __init__(
        self,
        ids: IdGenerator,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self._ids = ids
        # The id of the work in hand, if the 64-character correlation_id column can store it
        # (docs/api.md, request ids), else a fresh id: an entrypoint that let a longer or
        # stranger one through cannot break a write.
        correlation_id = current_correlation_id()
        self.correlation_id = correlation_id if is_correlation_id(correlation_id) else ids.new_id()
        self._after_commit = after_commit
        self.tracked = Tracked()
        self._published: list[EventEnvelope] = []
        self.committed = False

    def __enter__(self) -> UnitOfWork:
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self.committed:
                self._rollback()
        finally:
            self._close()
        # After the transaction is over and its locks are released: wake delivery.
        if self.committed and self._published:
            self._announce(self._published)

    def commit(self) -> list[EventEnvelope]:
        events = [
            event for aggregate in self.tracked.aggregates for event in aggregate.pull_events()
        ]
        correlation_id = self.correlation_id
        envelopes = [
            EventEnvelope.wrap(event, event_id, correlation_id)
            for event, event_id in zip(events, self._ids.new_ids(len(events)), strict=True)
        ]
        self._write_outbox(envelopes)
        self._commit()
        self.committed = True
        self._published = envelopes
        return envelopes

    @abstractmethod
    def _begin(self) -> None: ...

    @abstractmethod
    def _write_outbox(self, envelopes: list[EventEnvelope]) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _rollback(self) -> None: ...

    def _close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; adapters override when they hold any."""

    def _announce(self, envelopes: list[EventEnvelope]) -> None:
        """Hand the committed events to the after-commit hook; adapters whose
        commit is durable only later (a write group) override this."""
        if self._after_commit is not None:
            self._after_commit(envelopes)


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


B = TypeVar("B")


class BoundUnitOfWorkFactory(Generic[B]):
    """The UnitOfWorkFactory every storage adapter offers: its UnitOfWork class
    (`unit_of_work`) bound to the backend it runs on (a store, a database), ids,
    clock and the after-commit hook."""

    unit_of_work: Callable[[B, IdGenerator, Clock, AfterCommit | None], UnitOfWork]

    def __init__(
        self, backend: B, ids: IdGenerator, clock: Clock, after_commit: AfterCommit | None = None
    ) -> None:
        self.backend = backend
        self._ids = ids
        self._clock = clock
        self.after_commit = after_commit

    def __call__(self) -> UnitOfWork:
        return self.unit_of_work(self.backend, self._ids, self._clock, self.after_commit)
