"""PostgreSQL LISTEN/NOTIFY: a relay in another process than the committer wakes
as soon as outbox rows are committed, not at its next poll."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from adapters.messaging.relay import OutboxRelay
from adapters.sql.outbox_listener import OutboxListener
from adapters.system import FixedClock
from core.domain.events import EventEnvelope
from core.use_cases.catalog import CreateProductCommand
from tests.integration.sql_shop import sql_container

pytestmark = pytest.mark.postgres


def wait_for(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_a_commit_elsewhere_wakes_a_sleeping_relay(postgres_url: str, clock: FixedClock) -> None:
    with (
        sql_container(postgres_url, clock) as committer,
        sql_container(postgres_url, clock) as relay_side,
    ):
        delivered: list[EventEnvelope] = []
        # A relay that, once idle, would sleep an hour: only a wake-up can move it.
        relay = OutboxRelay(relay_side.outbox(), delivered.extend, min_idle=3600, max_idle=3600)
        thread = threading.Thread(target=relay.run, daemon=True)
        thread.start()
        listener = OutboxListener(postgres_url, relay.wake)
        try:
            time.sleep(0.3)  # the relay's first pass found nothing: it sleeps now
            create = committer.create_product()
            create(CreateProductCommand("EARLY-1", "Before listening", 100))
            time.sleep(1.0)
            assert delivered == []  # control: without a wake-up nothing moves

            listener.start()
            assert listener.listening.wait(10)
            # Connecting wakes the relay once, for what was committed meanwhile.
            assert wait_for(lambda: len(delivered) == 1, 10)

            create(CreateProductCommand("LATE-1", "While listening", 100))
            assert wait_for(lambda: len(delivered) == 2, 10), delivered
            assert [e.subject for e in delivered] == ["EARLY-1", "LATE-1"]
        finally:
            listener.stop()
            relay.stop()
            thread.join(5)
