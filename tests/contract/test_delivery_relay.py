"""The outbox relay loop on every storage adapter (memory, SQLite, PostgreSQL):
it keeps failed batches and retries them with backoff, wakes on a commit, shares
the outbox with other relays without delivering an event twice, and in-process
delivery picks up after a restart what was committed before it."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.messaging.relay import OutboxRelay
from adapters.sql import migrate
from adapters.sql.database import SqlDatabase
from core.domain.events import EventEnvelope
from core.domain.orders import RequestedLine
from core.ports.messaging import Outbox
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.ordering import PlaceOrderCommand
from entrypoints.container import build_container
from entrypoints.delivery import InProcessDelivery, start_delivery
from entrypoints.settings import Settings
from tests.contract.builders import add_product
from tests.contract.conftest import Backend

DEADLINE = 30.0


def eventually(condition: Callable[[], bool], what: str) -> None:
    give_up = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.01)


def _store(backend: Backend, products: int) -> list[str]:
    """`products` products: two events each. Returns their ids, oldest first."""
    for index in range(products):
        add_product(backend.uow, backend.clock.now(), f"SKU-{index}", on_hand=1)
    return [e.event_id for batch in backend.committed for e in batch]


class Running:
    """An OutboxRelay on a thread, stopped and joined on exit."""

    def __init__(self, relay: OutboxRelay) -> None:
        self.relay = relay
        self._thread = threading.Thread(target=relay.run)

    def __enter__(self) -> OutboxRelay:
        self._thread.start()
        return self.relay

    def __exit__(self, *exc: object) -> None:
        self.relay.stop()
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive()


def test_failed_deliveries_stay_in_the_outbox_and_are_retried(backend: Backend) -> None:
    stored = _store(backend, 3)
    attempts: list[int] = []
    delivered: list[str] = []

    def flaky(batch: list[EventEnvelope]) -> None:
        attempts.append(len(batch))
        if len(attempts) <= 3:
            raise ConnectionError("broker unavailable")
        delivered.extend(e.event_id for e in batch)

    relay = OutboxRelay(backend.outbox, flaky, batch_size=4, max_backoff=0.02)
    with Running(relay):
        eventually(lambda: backend.queries.outbox_status().backlog == 0, "the outbox to drain")
    assert attempts[:3] == [4, 4, 4]  # the same first batch, three times
    assert delivered == stored  # then everything, in order, once


def test_a_commit_wakes_an_idle_relay(backend: Backend) -> None:
    passes = 0
    outbox = backend.outbox

    class Counting:
        def relay_batch(self, limit: int, deliver: Callable[[list[EventEnvelope]], None]) -> int:
            nonlocal passes
            passes += 1
            return outbox.relay_batch(limit, deliver)

    counting: Outbox = Counting()
    delivered: list[EventEnvelope] = []
    # Idle sleeps of an hour: only a wake-up can deliver within the test.
    relay = OutboxRelay(counting, delivered.extend, min_idle=3600, max_idle=3600)
    with Running(relay):
        eventually(lambda: passes >= 1, "the relay's first (empty) pass")
        backend.container.commit_hooks().subscribe(relay.wake)
        stored = _store(backend, 1)
        eventually(lambda: len(delivered) == 2, "the woken relay to deliver")
    assert [e.event_id for e in delivered] == stored


def test_a_busy_relay_gathers_the_next_batch(backend: Backend) -> None:
    batches: list[list[str]] = []
    first_done = threading.Event()

    def deliver(batch: list[EventEnvelope]) -> None:
        batches.append([e.event_id for e in batch])
        first_done.set()

    busy = _store(backend, 3)  # 6 events: a busy pass (gather_above 4)
    # Idle sleeps of an hour: only a wake-up, or the end of a gather, starts a pass.
    relay = OutboxRelay(
        backend.outbox, deliver, min_idle=3600, max_idle=3600, gather=2.0, gather_above=4
    )
    backend.container.commit_hooks().subscribe(relay.wake)
    with Running(relay):
        assert first_done.wait(DEADLINE)
        # Three commits, each waking the relay while it gathers.
        later = [event_id for _ in range(3) for event_id in _store_more(backend)]
        eventually(lambda: len(batches) == 2, "the gathered batch")
    assert batches == [busy, later], "the three commits arrive as one batch"


def test_a_light_relay_does_not_gather(backend: Backend) -> None:
    batches: list[list[str]] = []
    # A gather longer than the test: only a relay that skips it after a light pass
    # delivers the second commit in time.
    relay = OutboxRelay(
        backend.outbox,
        lambda b: batches.append([e.event_id for e in b]),
        min_idle=3600,
        max_idle=3600,
        gather=3600,
        gather_above=4,
    )
    light = _store(backend, 1)  # 2 events
    backend.container.commit_hooks().subscribe(relay.wake)
    with Running(relay):
        eventually(lambda: len(batches) == 1, "the light batch")
        woken = _store_more(backend)
        eventually(lambda: len(batches) == 2, "a woken relay after a light pass")
    assert batches == [light, woken]


def _store_more(backend: Backend) -> list[str]:
    """One more product (two events, one commit); returns the new events' ids."""
    before = sum(len(batch) for batch in backend.committed)
    index = before // 2 + 1000
    add_product(backend.uow, backend.clock.now(), f"SKU-{index}", on_hand=1)
    return [e.event_id for batch in backend.committed for e in batch][before:]


def test_several_relays_deliver_each_event_once(backend: Backend) -> None:
    stored = _store(backend, 60)
    lock = threading.Lock()
    delivered: list[str] = []

    def deliver(batch: list[EventEnvelope]) -> None:
        time.sleep(0.001)  # let the relays overlap
        with lock:
            delivered.extend(e.event_id for e in batch)

    relays = [Running(OutboxRelay(backend.outbox, deliver, batch_size=7)) for _ in range(4)]
    for running in relays:
        running.__enter__()
    try:
        eventually(lambda: backend.queries.outbox_status().backlog == 0, "the outbox to drain")
    finally:
        for running in relays:
            running.__exit__()
    assert Counter(delivered) == Counter(stored)  # all of them, none twice


def test_in_process_delivery_resumes_after_a_restart(tmp_path: Path) -> None:
    """The embedded default: orders committed while no relay ran (say the process
    crashed) are paid once `orderly serve` starts again on the same SQLite file."""
    url = f"sqlite:///{tmp_path / 'orderly.db'}"
    database = SqlDatabase.from_url(url)
    migrate.upgrade(database)
    database.dispose()

    before = build_container(Settings(database_url=url))
    before.create_product()(CreateProductCommand("MUG-1", "Mug", 500, True, 10))
    orders = [
        before.place_order()(PlaceOrderCommand("cust-1", [RequestedLine("MUG-1", 1)])).order.id
        for _ in range(3)
    ]
    before.database().dispose()  # "crash": delivery never started

    after = build_container(Settings(database_url=url))
    assert after.queries().outbox_status().backlog > 0
    relay = start_delivery(after)
    assert isinstance(relay, InProcessDelivery)
    try:

        def paid() -> bool:
            views = [after.queries().get_order(o) for o in orders]
            return all(v is not None and v.status == "paid" for v in views)

        eventually(paid, "the orders to be paid after the restart")
        eventually(lambda: after.queries().outbox_status().backlog == 0, "the outbox to drain")
    finally:
        relay.stop()
        after.database().dispose()
