"""Outbox contract: oldest first, marked sent only after delivery, disjoint concurrent batches."""

from __future__ import annotations

import threading

import pytest

from core.domain.events import EventEnvelope
from tests.contract.builders import add_product
from tests.contract.conftest import Backend


class DeliveryFailed(Exception):
    pass


def _ids(envelopes: list[EventEnvelope]) -> list[str]:
    return [e.event_id for e in envelopes]


def _stored_events(backend: Backend, products: int) -> list[EventEnvelope]:
    """`products` products with initial stock: two events each, committed in order."""
    for index in range(products):
        add_product(backend.uow, backend.clock.now(), f"SKU-{index}", on_hand=1)
    return [e for batch in backend.committed for e in batch]


def test_batches_come_oldest_first_up_to_the_limit_until_drained(backend: Backend) -> None:
    stored = _stored_events(backend, 3)
    batches: list[list[EventEnvelope]] = []
    assert backend.outbox.relay_batch(4, batches.append) == 4
    assert backend.outbox.relay_batch(4, batches.append) == 2
    assert backend.outbox.relay_batch(4, batches.append) == 0
    assert [len(b) for b in batches] == [4, 2]
    delivered = [e for b in batches for e in b]
    assert delivered == stored  # whole envelopes, unchanged by the trip through storage


def test_a_failed_delivery_marks_nothing_sent_and_the_batch_comes_again(backend: Backend) -> None:
    stored = _stored_events(backend, 2)

    def fail(batch: list[EventEnvelope]) -> None:
        raise DeliveryFailed("broker down")

    with pytest.raises(DeliveryFailed):
        backend.outbox.relay_batch(10, fail)
    assert backend.queries.outbox_status().backlog == 4
    again: list[list[EventEnvelope]] = []
    assert backend.outbox.relay_batch(10, again.append) == 4
    assert _ids(again[0]) == _ids(stored)
    assert backend.queries.outbox_status().backlog == 0


def test_events_are_marked_sent_only_after_deliver_returns(backend: Backend) -> None:
    _stored_events(backend, 1)
    backlog_during: list[int] = []
    backend.outbox.relay_batch(
        10, lambda batch: backlog_during.append(backend.queries.outbox_status().backlog)
    )
    assert backlog_during == [2]
    assert backend.queries.outbox_status().backlog == 0


def test_concurrent_relays_take_disjoint_batches(backend: Backend) -> None:
    stored = _stored_events(backend, 3)
    claimed = threading.Event()
    release = threading.Event()
    first: list[EventEnvelope] = []

    def slow_deliver(batch: list[EventEnvelope]) -> None:
        first.extend(batch)
        claimed.set()
        assert release.wait(30), "the test never released the first relay"

    relay = threading.Thread(target=backend.outbox.relay_batch, args=(4, slow_deliver))
    relay.start()
    try:
        assert claimed.wait(30)
        second: list[EventEnvelope] = []
        # While the first relay still holds its batch, a second one takes only the rest.
        assert backend.outbox.relay_batch(10, second.extend) == 2
        assert backend.outbox.relay_batch(10, second.extend) == 0
    finally:
        release.set()
        relay.join(30)
    assert _ids(first) == _ids(stored[:4])
    assert _ids(second) == _ids(stored[4:])
    assert backend.queries.outbox_status().backlog == 0
