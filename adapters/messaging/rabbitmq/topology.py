"""The broker layout, declared idempotently by every process that uses it.

    orderly.events                 durable topic exchange; routing key = event type
    orderly.<handler>              one durable queue per handler, bound to its event type
                                   (a selective handler's: to `<queue>.<event type>`, which
                                   only the events it wants carry, as a BCC routing key)
    orderly.<handler>.retry.<ms>   one queue per delay level: messages wait out the TTL,
                                   then dead-letter (default exchange) back to the handler queue
    orderly.dead-letter            messages that failed `max_attempts` times, or cannot be read

Retry delays double per attempt from `retry_delay_ms`. The delay is part of the
retry queue's name because RabbitMQ refuses to redeclare a queue with other
arguments: changing the setting creates new queues instead of failing startup.

A handler that says which events it wants (`EventHandler.wanted`, the webhook
fan-out: only events an active subscription wants) is selective: the publisher
asks it per batch and adds its key to those events' messages only (RabbitMQ's
sender-selected distribution: the `BCC` header routes like extra routing keys
and is removed before delivery). Without that, every event was also a message
on the fan-out's queue, written, delivered, decoded and acked for nothing while
no subscription exists. docs/decisions/0016-selective-webhook-routing.md.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.domain.events import EventEnvelope
from core.ports.messaging import EventHandler

EXCHANGE = "orderly.events"
DEAD_LETTER_QUEUE = "orderly.dead-letter"
BCC = "BCC"  # RabbitMQ: extra routing keys, stripped from the message before delivery
QUEUE_PREFIX = "orderly."
# Beyond this many distinct delays, later retries reuse the longest one.
MAX_DELAY_LEVELS = 8


@dataclass(frozen=True)
class Route:
    """A handler's queue and where its retries wait."""

    handler: str
    event_type: str
    queue: str
    retry_queues: tuple[tuple[str, int], ...]  # (name, delay in ms), shortest first
    # A selective handler's choice of the events it wants (EventHandler.wanted).
    wanted: Callable[[Sequence[EventEnvelope]], Collection[str]] | None = field(
        default=None, compare=False
    )

    @property
    def binding_key(self) -> str:
        """The routing key the queue is bound to for this route's event type."""
        return self.event_type if self.wanted is None else f"{self.queue}.{self.event_type}"

    def retry_queue(self, failed_attempts: int) -> str:
        """The queue that delays the next attempt after `failed_attempts` failures."""
        index = min(failed_attempts, len(self.retry_queues)) - 1
        return self.retry_queues[index][0]


@dataclass(frozen=True)
class Topology:
    routes: tuple[Route, ...]
    max_attempts: int
    retry_delay_ms: int

    @staticmethod
    def for_handlers(
        handlers: Iterable[EventHandler], max_attempts: int, retry_delay_ms: int
    ) -> Topology:
        levels = max(1, min(max_attempts - 1, MAX_DELAY_LEVELS))
        delays = [retry_delay_ms * 2**level for level in range(levels)]
        routes = []
        for handler in handlers:
            queue = QUEUE_PREFIX + handler.name
            retries = tuple((f"{queue}.retry.{delay}ms", delay) for delay in delays)
            route = Route(handler.name, handler.event_type, queue, retries, handler.wanted)
            routes.append(route)
        return Topology(tuple(routes), max_attempts, retry_delay_ms)

    def selected_keys(self, envelopes: Sequence[EventEnvelope]) -> list[list[str]]:
        """Per envelope, the binding keys of the selective routes that want it: one
        `wanted` call per selective handler and batch (the fan-out: one read)."""
        keys: list[list[str]] = [[] for _ in envelopes]
        by_handler: dict[str, dict[str, Route]] = {}
        for route in self.routes:
            if route.wanted is not None:
                by_handler.setdefault(route.handler, {})[route.event_type] = route
        for by_type in by_handler.values():
            candidates = [e for e in envelopes if e.type in by_type]
            if not candidates:
                continue
            wanted = by_type[candidates[0].type].wanted
            assert wanted is not None
            chosen = set(wanted(candidates))
            for index, envelope in enumerate(envelopes):
                if envelope.type in by_type and envelope.event_id in chosen:
                    keys[index].append(by_type[envelope.type].binding_key)
        return keys

    def consumed(self) -> list[Route]:
        """One route per queue: a handler with several event types has one queue."""
        first: dict[str, Route] = {}
        for route in self.routes:
            first.setdefault(route.queue, route)
        return list(first.values())

    def route_for_queue(self, queue: str) -> Route | None:
        return next((r for r in self.routes if r.queue == queue), None)

    @property
    def queues(self) -> list[str]:
        """Every queue this topology owns, handler queues first."""
        names = [r.queue for r in self.routes]
        names += [name for r in self.routes for name, _ in r.retry_queues]
        return [*names, DEAD_LETTER_QUEUE]

    def declare(self, channel: Any) -> None:
        """Declare everything on a pika BlockingChannel; safe to repeat."""
        channel.exchange_declare(exchange=EXCHANGE, exchange_type="topic", durable=True)
        channel.queue_declare(queue=DEAD_LETTER_QUEUE, durable=True)
        for route in self.routes:
            channel.queue_declare(queue=route.queue, durable=True)
            channel.queue_bind(queue=route.queue, exchange=EXCHANGE, routing_key=route.binding_key)
            if route.wanted is not None:
                # A broker declared before the handler became selective still binds its
                # queue to the bare type (every event); a missing binding unbinds quietly.
                channel.queue_unbind(
                    queue=route.queue, exchange=EXCHANGE, routing_key=route.event_type
                )
            for name, delay in route.retry_queues:
                channel.queue_declare(
                    queue=name,
                    durable=True,
                    arguments={
                        "x-message-ttl": delay,
                        "x-dead-letter-exchange": "",
                        "x-dead-letter-routing-key": route.queue,
                    },
                )
