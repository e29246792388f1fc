"""The correlation id of a handler's run (core/ports/correlation.py): the dispatcher
sets the handled event's id around every way it runs a handler, whatever id the
calling thread had, and restores the caller's afterwards."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from adapters.memory.dead_letters import MemoryDeadLetterStore
from adapters.memory.store import MemoryStore
from adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from adapters.messaging.dispatch import HandlerDispatcher
from adapters.system import FixedClock, UuidGenerator
from core.domain.catalog import Product
from core.domain.events import EventEnvelope
from core.domain.money import Money
from core.domain.stock import StockItem
from core.ports.correlation import correlation, current_correlation_id
from core.ports.messaging import EventHandler

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


def _event(n: int, correlation_id: str) -> EventEnvelope:
    return EventEnvelope(f"event-{n}", "Ping", f"SKU-{n}", WHEN, correlation_id, 1, {})


class Cataloguer:
    """Creates a product per event (a ProductCreated each), a batch in one unit of work."""

    def __init__(self, store: MemoryStore, batch_fails: bool = False) -> None:
        self._uow = MemoryUnitOfWorkFactory(store, UuidGenerator(), FixedClock(WHEN))
        self._batch_fails = batch_fails

    def handle(self, envelope: EventEnvelope) -> None:
        self._create([envelope])

    def handle_batch(self, envelopes: Sequence[EventEnvelope]) -> None:
        if self._batch_fails:
            raise RuntimeError("this batch fails as a whole")
        self._create(envelopes)

    def _create(self, envelopes: Sequence[EventEnvelope]) -> None:
        with self._uow() as uow:
            for envelope in envelopes:
                sku = envelope.subject
                uow.products.add(Product.create(sku, "Thing", Money(5, "EUR"), True, WHEN))
                uow.stock.add(StockItem(sku))
            uow.commit()

    def as_handler(self) -> EventHandler:
        return EventHandler("test.cataloguer", "Ping", self.handle, self.handle_batch)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def _stamped(store: MemoryStore) -> dict[str, str]:
    return {row.envelope.subject: row.envelope.correlation_id for row in store.outbox}


def test_one_event_handled_stamps_its_id_and_the_callers_id_comes_back(
    store: MemoryStore,
) -> None:
    handler = Cataloguer(store).as_handler()
    with correlation("the-caller"):
        HandlerDispatcher([handler]).run(handler, _event(1, "corr-1"))
        assert current_correlation_id() == "the-caller"
    assert current_correlation_id() is None
    assert _stamped(store) == {"SKU-1": "corr-1"}


def test_a_batch_in_one_unit_of_work_carries_its_first_events_id(store: MemoryStore) -> None:
    handler = Cataloguer(store).as_handler()
    failures = HandlerDispatcher([handler]).run_batch(
        handler, [_event(1, "corr-1"), _event(2, "corr-2")]
    )
    assert failures == {}
    assert _stamped(store) == {"SKU-1": "corr-1", "SKU-2": "corr-1"}


def test_a_failed_batch_retried_one_by_one_stamps_each_events_own_id(
    store: MemoryStore,
) -> None:
    handler = Cataloguer(store, batch_fails=True).as_handler()
    dispatcher = HandlerDispatcher([handler])
    with correlation("the-caller"):
        assert dispatcher.run_batch(handler, [_event(1, "corr-1"), _event(2, "corr-2")]) == {}
    assert _stamped(store) == {"SKU-1": "corr-1", "SKU-2": "corr-2"}


def test_a_delivery_run_until_parked_stamps_its_id(store: MemoryStore) -> None:
    handler = Cataloguer(store, batch_fails=True).as_handler()
    dispatcher = HandlerDispatcher([handler], dead_letters=MemoryDeadLetterStore(store))
    with correlation("the-caller"):
        assert dispatcher.run_or_park(handler, _event(3, "corr-3"))
        dispatcher.deliver([_event(4, "corr-4"), _event(5, "corr-5")])  # batch fails: parked path
    assert _stamped(store) == {"SKU-3": "corr-3", "SKU-4": "corr-4", "SKU-5": "corr-5"}


def test_a_correlation_block_restores_the_outer_id_when_its_work_fails() -> None:
    with correlation("outer"):
        with pytest.raises(RuntimeError), correlation("inner"):
            assert current_correlation_id() == "inner"
            raise RuntimeError("the work failed")
        assert current_correlation_id() == "outer"
    assert current_correlation_id() is None
