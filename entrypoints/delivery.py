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
    from adapters.sql.wake_thread import WakeThread


def start_delivery(container: Container, *, apart: bool = False) -> InProcessDelivery | None:
    """Connect committed events to their handlers for the configured delivery mode.

    `sync`: drained in the committing thread. `background`: a relay thread of this
    process runs the handlers, woken by each commit; the returned object's `.stop()`
    ends it. `rabbitmq`: nothing in the API process (`orderly relay` and
    `orderly worker` are processes of their own).

    `apart`: this process delivers what other processes commit (the delivery process
    beside `orderly serve`, entrypoints/delivery_process.py), so on SQLite too the
    relay is woken by their commits.
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
        listener = listen_for_outbox(container, relay.relay.wake, apart=apart)
        return InProcessDelivery(relay.start(), sweeper.start(), listener)
    return None


def track_delivery_metrics(container: Container) -> None:
    """Outbox backlog and age, and the dead-letter depth (table or queue), on scrape."""
    track_outbox(lambda: container.outbox_queries().status())
    track_dead_letters(lambda: container.dead_letters().count())


def listen_for_outbox(
    container: Container, wake: Callable[[], None], *, apart: bool = False
) -> WakeThread | None:
    """Wake a relay as soon as another process commits outbox rows: on PostgreSQL
    always (LISTEN); on SQLite when delivery runs `apart` from the committing
    process (otherwise this process's own commits wake it)."""
    if container.config.storage() != "sql":
        return None
    database = container.database()
    if database.is_sqlite:
        return lazy.commit_watcher(database, wake) if apart else None
    return lazy.outbox_listener(container.config.database_url(), wake)


class InProcessDelivery:
    """What `start_delivery` runs in background mode; `stop()` ends all of it."""

    def __init__(
        self,
        relay: BackgroundRelay,
        sweeper: Sweeper,
        listener: WakeThread | None = None,
    ) -> None:
        self.relay = relay
        self.sweeper = sweeper
        self.listener = listener

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop()
        self.sweeper.stop()
        self.relay.stop()
