"""The broker layout, declared idempotently by every process that uses it.

    orderly.events                 durable topic exchange; routing key = event type
    orderly.<handler>              one durable queue per handler, bound to its event type
    orderly.<handler>.retry.<ms>   one queue per delay level: messages wait out the TTL,
                                   then dead-letter (default exchange) back to the handler queue
    orderly.dead-letter            messages that failed `max_attempts` times, or cannot be read

Retry delays double per attempt from `retry_delay_ms`. The delay is part of the
retry queue's name because RabbitMQ refuses to redeclare a queue with other
arguments: changing the setting creates new queues instead of failing startup.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.ports.messaging import EventHandler

EXCHANGE = "orderly.events"
DEAD_LETTER_QUEUE = "orderly.dead-letter"
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
            routes.append(Route(handler.name, handler.event_type, queue, retries))
        return Topology(tuple(routes), max_attempts, retry_delay_ms)

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
            channel.queue_bind(queue=route.queue, exchange=EXCHANGE, routing_key=route.event_type)
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
