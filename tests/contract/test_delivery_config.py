"""Choosing and configuring delivery: the mode per settings, what start_delivery starts,
the RabbitMQ retry layout, and the messaging variables' validation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.messaging.inprocess import BackgroundRelay
from adapters.messaging.rabbitmq.topology import MAX_DELAY_LEVELS, Topology
from adapters.sql import migrate
from adapters.sql.database import SqlDatabase
from core.domain.events import EVENT_TYPES, EventEnvelope
from core.ports.messaging import EventHandler
from entrypoints.container import build_container
from entrypoints.delivery import InProcessDelivery, start_delivery
from entrypoints.settings import ConfigError, Settings


def _noop(_: object) -> None:
    return None


HANDLERS = [
    EventHandler("payments.charge", "OrderPlaced", _noop),
    EventHandler("notifications.order_paid", "OrderPaid", _noop),
]


def test_retry_delays_double_per_attempt_until_the_last() -> None:
    topology = Topology.for_handlers(HANDLERS, max_attempts=5, retry_delay_ms=1000)
    charge = topology.routes[0]
    assert charge.queue == "orderly.payments.charge"
    assert [delay for _, delay in charge.retry_queues] == [1000, 2000, 4000, 8000]
    assert charge.retry_queue(1) == "orderly.payments.charge.retry.1000ms"
    assert charge.retry_queue(4) == "orderly.payments.charge.retry.8000ms"
    assert topology.route_for_queue("orderly.notifications.order_paid") is topology.routes[1]
    assert topology.queues[-1] == "orderly.dead-letter"


def test_many_attempts_reuse_the_longest_delay() -> None:
    route = Topology.for_handlers(HANDLERS, max_attempts=50, retry_delay_ms=100).routes[0]
    assert len(route.retry_queues) == MAX_DELAY_LEVELS
    longest = route.retry_queues[-1][0]
    assert route.retry_queue(MAX_DELAY_LEVELS) == longest
    assert route.retry_queue(49) == longest


def test_a_selective_handler_is_routed_only_the_events_it_wants() -> None:
    """One `wanted` question per selective handler and batch, after which only the
    chosen events carry its key; other handlers' routes do not change."""
    asked: list[list[str]] = []

    def wanted(envelopes: Sequence[EventEnvelope]) -> set[str]:
        asked.append([e.event_id for e in envelopes])
        return {e.event_id for e in envelopes if e.subject == "order-2"}

    fanout = [EventHandler("webhooks.fanout", t, _noop, None, wanted) for t in EVENT_TYPES]
    topology = Topology.for_handlers([*HANDLERS, *fanout], max_attempts=3, retry_delay_ms=100)
    assert topology.routes[0].binding_key == "OrderPlaced"
    assert {r.binding_key for r in topology.routes if r.handler == "webhooks.fanout"} == {
        f"orderly.webhooks.fanout.{t}" for t in EVENT_TYPES
    }
    assert [r.queue for r in topology.consumed()] == [
        "orderly.payments.charge",
        "orderly.notifications.order_paid",
        "orderly.webhooks.fanout",
    ]
    batch = [_event("e1", "OrderPlaced", "order-1"), _event("e2", "OrderPaid", "order-2")]
    assert topology.selected_keys(batch) == [[], ["orderly.webhooks.fanout.OrderPaid"]]
    assert asked == [["e1", "e2"]]
    assert Topology.for_handlers(HANDLERS, 3, 100).selected_keys(batch) == [[], []]


def _event(event_id: str, event_type: str, subject: str) -> EventEnvelope:
    return EventEnvelope(event_id, event_type, subject, datetime.now(UTC), "corr", 1, {})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RABBITMQ_PREFETCH", "0", "ORDERLY_RABBITMQ_PREFETCH must be 1-10000"),
        ("RABBITMQ_PREFETCH", "lots", "ORDERLY_RABBITMQ_PREFETCH must be an integer"),
        ("RELAY_BATCH_SIZE", "0", "ORDERLY_RELAY_BATCH_SIZE must be 1-10000"),
        ("RETRY_DELAY_MS", "1", "ORDERLY_RETRY_DELAY_MS must be 10-3600000"),
        ("MESSAGING", "kafka", "ORDERLY_MESSAGING must be inprocess or rabbitmq"),
    ],
)
def test_bad_messaging_variables_are_refused_by_name(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({f"ORDERLY_{variable}": value})


def test_messaging_variables_are_read() -> None:
    settings = Settings.from_env(
        {
            "ORDERLY_RABBITMQ_PREFETCH": "20",
            "ORDERLY_RELAY_BATCH_SIZE": "50",
            "ORDERLY_RETRY_DELAY_MS": "250",
        }
    )
    assert (settings.rabbitmq_prefetch, settings.relay_batch_size, settings.retry_delay_ms) == (
        20,
        50,
        250,
    )


def test_each_mode_starts_what_it_needs(tmp_path: Path) -> None:
    memory = build_container(Settings(database_url="memory://"))
    assert memory.config.delivery() == "sync"
    assert start_delivery(memory) is None  # drained in the committing thread

    url = f"sqlite:///{tmp_path / 'orderly.db'}"
    database = SqlDatabase.from_url(url)
    migrate.upgrade(database)
    database.dispose()
    embedded = build_container(Settings(database_url=url))
    assert embedded.config.delivery() == "background"
    delivery = start_delivery(embedded)
    assert isinstance(delivery, InProcessDelivery)
    assert isinstance(delivery.relay, BackgroundRelay)
    assert delivery.sweeper.interval == embedded.config.sweep_interval_seconds()
    delivery.stop()
    embedded.database().dispose()

    broker = build_container(Settings(database_url="memory://", messaging="rabbitmq"))
    assert broker.config.delivery() == "rabbitmq"
    assert start_delivery(broker) is None  # `orderly relay` and `orderly worker` do it
