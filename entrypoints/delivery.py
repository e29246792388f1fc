"""Delivery in the API process: connecting committed events to their handlers for the
configured mode, and the outbox and dead-letter gauges every delivering process exports.

The container (entrypoints/container.py) says what serves each port; this module
starts and stops what runs (docs/delivery.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from adapters.messaging.inprocess import BackgroundRelay
from adapters.messaging.metrics import track_dead_letters, track_outbox
from entrypoints import lazy_adapters as lazy
from entrypoints.container import Container
from entrypoints.sweeper import Sweeper

if TYPE_CHECKING:
    from adapters.sql.outbox_listener import OutboxListener


def start_delivery(container: Container) -> InProcessDelivery | None:
    """Connect committed events to their handlers for the configured delivery mode.

    `sync`: drained in the committing thread. `background`: a relay thread of this
    process runs the handlers, woken by each commit; the returned object's `.stop()`
    ends it. `rabbitmq`: nothing in the API process (`orderly relay` and
    `orderly worker` are processes of their own).
    """
    track_delivery_metrics(container)
    delivery = container.config.delivery()
    if delivery == "sync":
        container.commit_hooks().subscribe(container.sync_relay().on_commit)
        return None
    if delivery == "background":
        relay = container.background_relay()
        container.commit_hooks().subscribe(relay.on_commit)
        # No worker process in this mode: the serving process runs the sweep too.
        sweeper = Sweeper(
            container.expire_orders(),
            container.purge_idempotency(),
            container.config.sweep_interval_seconds(),
        )
        listener = listen_for_outbox(container, relay.relay.wake)
        return InProcessDelivery(relay.start(), sweeper.start(), listener)
    return None


def track_delivery_metrics(container: Container) -> None:
    """Outbox backlog and age, and the dead-letter depth (table or queue), on scrape."""
    track_outbox(lambda: container.outbox_queries().status())
    track_dead_letters(lambda: container.dead_letters().count())


def listen_for_outbox(container: Container, wake: Callable[[], None]) -> OutboxListener | None:
    """On PostgreSQL, wake a relay as soon as any process commits outbox rows."""
    if container.config.storage() != "sql" or container.database().is_sqlite:
        return None
    return lazy.outbox_listener(container.config.database_url(), wake)


class InProcessDelivery:
    """What `start_delivery` runs in background mode; `stop()` ends all of it."""

    def __init__(
        self, relay: BackgroundRelay, sweeper: Sweeper, listener: OutboxListener | None = None
    ) -> None:
        self.relay = relay
        self.sweeper = sweeper
        self.listener = listener

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop()
        self.sweeper.stop()
        self.relay.stop()
