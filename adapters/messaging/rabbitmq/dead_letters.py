"""Operator access to the dead-letter queue: list, replay, purge."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pika

from adapters.messaging.dead_letters import DeadLetterSummary as DeadLetter
from adapters.messaging.rabbitmq import messages
from adapters.messaging.rabbitmq.connection import BROKER_ERRORS, parameters, unavailable
from adapters.messaging.rabbitmq.topology import DEAD_LETTER_QUEUE, Topology


def _describe(properties: Any, body: bytes) -> DeadLetter:
    headers = messages.headers(properties)
    event_id, event_type = properties.message_id, properties.type
    if not event_id or not event_type:  # a foreign message: try the body
        try:
            data = json.loads(body)
            event_id = event_id or str(data.get("event_id", ""))
            event_type = event_type or str(data.get("type", ""))
        except (ValueError, AttributeError):
            pass
    return DeadLetter(
        event_id=str(event_id or ""),
        event_type=str(event_type or ""),
        queue=_text(headers.get(messages.ORIGIN_QUEUE)),
        attempts=messages.attempt(properties),
        error=_text(headers.get(messages.ERROR)),
        dead_lettered_at=_text(headers.get(messages.DEAD_AT)),
        correlation_id=str(properties.correlation_id or ""),
    )


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return "" if value is None else str(value)


class DeadLetterQueue:
    """RabbitMQ mode's dead letters (`orderly dlq` through the DeadLetters interface)."""

    def __init__(self, url: str, topology: Topology) -> None:
        self._url = url
        self._topology = topology

    def _open(self) -> tuple[Any, Any]:
        try:
            connection = pika.BlockingConnection(parameters(self._url))
            channel = connection.channel()
            self._topology.declare(channel)
        except BROKER_ERRORS as exc:
            raise unavailable(exc, self._url) from exc
        return connection, channel

    @contextmanager
    def _channel(self) -> Iterator[Any]:
        """A channel on a connection of its own, closed after; broker errors become
        DependencyUnavailable. Messages fetched and not acked return to the queue when
        the connection closes."""
        connection, channel = self._open()
        try:
            yield channel
        except BROKER_ERRORS as exc:
            raise unavailable(exc, self._url) from exc
        finally:
            if connection.is_open:
                connection.close()

    @staticmethod
    def _fetch(
        channel: Any, enough: Callable[[], bool] = lambda: False
    ) -> Iterator[tuple[Any, Any, bytes]]:
        """The dead letters there are now, oldest first and unacked, fetched one at a time
        until `enough` (asked before each fetch) or the queue runs dry."""
        depth = channel.queue_declare(DEAD_LETTER_QUEUE, passive=True).method.message_count
        for _ in range(depth):
            if enough():
                return
            method, properties, body = channel.basic_get(DEAD_LETTER_QUEUE, auto_ack=False)
            if method is None:
                return
            yield method, properties, body

    def count(self) -> int:
        with self._channel() as channel:
            return int(channel.queue_declare(DEAD_LETTER_QUEUE, passive=True).method.message_count)

    def peek(self, limit: int = 100) -> list[DeadLetter]:
        """Peek without removing: fetched unacked, then returned by closing the channel."""
        found: list[DeadLetter] = []
        with self._channel() as channel:
            for _, properties, body in self._fetch(channel, lambda: len(found) >= limit):
                found.append(_describe(properties, body))
        return found

    def replay(self, event_id: str | None = None, limit: int | None = None) -> list[DeadLetter]:
        """Send dead letters back to the queue they came from with a fresh attempt count.

        Each is removed from the dead-letter queue only after the broker confirmed the
        re-publish. Letters whose origin queue is unknown (unreadable messages) stay put.
        """
        replayed: list[DeadLetter] = []
        with self._channel() as channel:
            channel.confirm_delivery()
            known = {route.queue for route in self._topology.routes}

            def enough() -> bool:
                return limit is not None and len(replayed) >= limit

            for method, properties, body in self._fetch(channel, enough):
                letter = _describe(properties, body)
                wanted = event_id is None or letter.event_id == event_id
                if not wanted or letter.queue not in known:
                    continue  # left unacked: back in the queue when the channel closes
                channel.basic_publish(
                    exchange="",
                    routing_key=letter.queue,
                    body=body,
                    properties=messages.with_headers(
                        properties,
                        {
                            messages.ATTEMPT: 1,
                            messages.ORIGIN_QUEUE: None,
                            messages.ERROR: None,
                            messages.DEAD_AT: None,
                        },
                    ),
                    mandatory=True,
                )
                channel.basic_ack(method.delivery_tag)
                replayed.append(letter)
        return replayed

    def purge(self) -> int:
        with self._channel() as channel:
            return int(channel.queue_purge(DEAD_LETTER_QUEUE).method.message_count)
