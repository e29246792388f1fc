"""Consuming handler queues: manual acks, bounded prefetch, delayed retries, dead letters.

One `RabbitConsumer` owns one BlockingConnection and runs in one thread (pika's
connections are not thread-safe); a worker runs several for concurrency. The
consumer takes every delivery that has arrived (up to the prefetch), hands each
handler's share to it as one batch (one unit of work, inbox dedupe; a failing
delivery is retried alone, see HandlerDispatcher.run_batch), and acks only after
the effects committed, so a crash redelivers and the inbox absorbs the repeat.
A delivery that still fails is re-published to the handler's next retry queue
(longer TTL each time) and acked; after `max_attempts` it goes to the
dead-letter queue. A message that cannot be read goes there at once. When
storage (or the payment gateway, circuit open) is down the messages are
requeued and the consumer backs off, so an outage does not burn the messages' attempts.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pika

from adapters.messaging import metrics
from adapters.messaging.dispatch import HandlerDispatcher
from adapters.messaging.rabbitmq import messages
from adapters.messaging.rabbitmq.connection import (
    BROKER_ERRORS,
    mask_url,
    parameters,
    unavailable,
)
from adapters.messaging.rabbitmq.topology import DEAD_LETTER_QUEUE, Route, Topology
from adapters.tracing import otel
from core.domain.events import EventEnvelope
from core.ports.errors import DependencyUnavailable
from core.ports.messaging import EventHandler

logger = logging.getLogger("orderly.messaging.consumer")
# How long a consumer waits for more of a burst before handling a partial batch.
GATHER_SECONDS = 0.01


@dataclass(frozen=True)
class _Delivery:
    route: Route
    tag: int
    properties: Any
    body: bytes


class _StorageDown(Exception):
    """Raised out of the consume loop to drop the connection and back off."""


class RabbitConsumer:
    def __init__(
        self,
        url: str,
        topology: Topology,
        dispatcher: HandlerDispatcher,
        stop: threading.Event,
        prefetch: int = 100,
        max_backoff: float = 10.0,
        batch_size: int | None = None,
    ) -> None:
        self._url = url
        self._topology = topology
        self._dispatcher = dispatcher
        self._stop = stop
        self._prefetch = prefetch
        self._max_backoff = max_backoff
        self._handlers: dict[str, EventHandler] = {h.name: h for h in dispatcher.handlers}
        self._storage_down: DependencyUnavailable | None = None
        self._connection: Any = None
        self._publish_channel: Any = None
        self._attempt = 0  # failed connections since the last good one
        self._pending: list[_Delivery] = []
        # Half the prefetch: the next batch is already on its way while one is handled.
        self._batch = max(1, batch_size or prefetch // 2)
        self.consuming = threading.Event()  # set while subscribed (tests and readiness)

    def run(self) -> None:
        """Consume until `stop` is set, reconnecting with backoff when the broker or
        storage goes away: one log line per attempt, naming the broker (password
        masked) and the reason; the delay doubles from 0.5 s up to `max_backoff`."""
        backoff = 0.5
        self._attempt = 0
        while not self._stop.is_set():
            problem = ""
            try:
                self._consume()
            except BROKER_ERRORS as exc:
                problem = f"rabbitmq {unavailable(exc, self._url).detail}"
            except _StorageDown:
                problem = f"storage unavailable ({self._storage_down}); messages requeued"
            finally:
                if self.consuming.is_set():  # it had worked: back off afresh
                    backoff, self._attempt = 0.5, 0
                self.consuming.clear()
                self._close()
            self._storage_down = None
            if problem:
                self._attempt += 1
                logger.warning(
                    "%s; reconnect attempt %d in %.1fs",
                    problem,
                    self._attempt,
                    backoff,
                    extra={"reconnect_attempt": self._attempt, "backoff_seconds": backoff},
                )
            self._stop.wait(backoff)
            backoff = min(self._max_backoff, backoff * 2)

    def _consume(self) -> None:
        self._connection = pika.BlockingConnection(parameters(self._url))
        channel = self._connection.channel()
        self._topology.declare(channel)
        channel.basic_qos(prefetch_count=self._prefetch)
        self._publish_channel = self._connection.channel()
        self._publish_channel.confirm_delivery()
        tags = [
            channel.basic_consume(
                queue=route.queue, on_message_callback=partial(self._on_message, route)
            )
            for route in self._topology.consumed()
            if route.handler in self._handlers
        ]
        self.consuming.set()
        if self._attempt:
            logger.info(
                "consuming again from %s after %d attempt(s)", mask_url(self._url), self._attempt
            )
        while not self._stop.is_set():
            # Wait for deliveries, then take what else arrives, and handle them all.
            self._connection.process_data_events(time_limit=0.5)
            self._gather()
            self._flush(channel)
            if self._storage_down is not None:
                raise _StorageDown()
        # Graceful stop: no new deliveries; those prefetched but not started go back
        # to the queue (basic_cancel rejects those not yet dispatched, closing the
        # connection requeues those left unacked), in-flight ones have finished.
        for tag in tags:
            channel.basic_cancel(tag)

    def _gather(self) -> None:
        """Take what has arrived and, while deliveries keep coming, up to GATHER_SECONDS
        more: a relay's burst arrives over some milliseconds, and flushing its first
        few paid a unit of work, commit and ack per handful. A lone one goes at once."""
        if not self._pending:
            return
        deadline = time.monotonic() + GATHER_SECONDS
        while len(self._pending) < self._batch:
            before = len(self._pending)
            self._connection.process_data_events(time_limit=0)
            if len(self._pending) > before:
                continue
            left = deadline - time.monotonic()
            if before == 1 or left <= 0:
                return
            self._connection.process_data_events(time_limit=left)
            if len(self._pending) == before:
                return  # nothing more within the window

    def _close(self) -> None:
        self._pending = []  # unacked: the broker requeues them with the connection
        connection, self._connection = self._connection, None
        self._publish_channel = None
        if connection is not None and connection.is_open:
            # The broker requeues anything still unacked.
            with contextlib.suppress(*BROKER_ERRORS):
                connection.close()

    def _on_message(
        self, route: Route, channel: Any, method: Any, properties: Any, body: bytes
    ) -> None:
        if self._stop.is_set() or self._storage_down is not None:
            # Left unacked: closing the connection (or cancelling the consumer) hands it
            # back to the queue. A nack would have the broker redeliver it to this very
            # consumer at once, into the dispatch loop the nack runs in: the consumer
            # would spin on redeliveries instead of backing off.
            return
        self._pending.append(_Delivery(route, method.delivery_tag, properties, body))

    def _flush(self, channel: Any) -> None:
        """Handle the deliveries received so far, a batch per handler, then ack them.

        Each handler's share runs as one batch (one unit of work); deliveries that fail
        are retried one by one, and those that still fail go to a retry queue (or the
        dead-letter queue) before their ack. Acks go out only after the effects
        committed, as one multiple-ack when every delivery of the flush is settled.
        """
        pending, self._pending = self._pending, []
        if not pending:
            return
        by_handler: dict[str, list[tuple[_Delivery, EventEnvelope]]] = {}
        settled: list[int] = []
        for delivery in pending:
            try:
                envelope = messages.decode(delivery.body)
            except messages.UnreadableMessage as exc:
                self._dead_letter(delivery.route, delivery.properties, delivery.body, str(exc))
                settled.append(delivery.tag)
                continue
            # The handler's span continues the trace the relay put in the headers.
            otel.remember(
                envelope.event_id, messages.headers(delivery.properties).get(otel.TRACEPARENT)
            )
            by_handler.setdefault(delivery.route.handler, []).append((delivery, envelope))
        try:
            for name, group in by_handler.items():
                handler = self._handlers[name]
                failures = self._dispatcher.run_batch(handler, [e for _, e in group])
                for delivery, envelope in group:
                    failure = failures.get(envelope.event_id)
                    if failure is not None:
                        self._failed(
                            delivery.route,
                            delivery.properties,
                            delivery.body,
                            failure,
                            envelope.event_id,
                        )
                    settled.append(delivery.tag)
        except DependencyUnavailable as exc:
            # The batches not yet settled stay unacked; the connection is dropped below
            # (the broker requeues them) and the consumer backs off.
            self._storage_down = exc
        self._ack(channel, settled, len(settled) == len(pending))

    @staticmethod
    def _ack(channel: Any, tags: list[int], everything: bool) -> None:
        if not tags:
            return
        if everything:
            channel.basic_ack(delivery_tag=max(tags), multiple=True)
            return
        for tag in tags:
            channel.basic_ack(delivery_tag=tag)

    def _failed(
        self, route: Route, properties: Any, body: bytes, exc: Exception, event_id: str
    ) -> None:
        attempt = messages.attempt(properties)
        reason = f"{exc.__class__.__name__}: {exc}"
        if attempt >= self._topology.max_attempts:
            logger.error(
                "%s failed on event %s after %d attempts, dead-lettered: %s",
                route.handler,
                event_id,
                attempt,
                reason,
            )
            self._dead_letter(route, properties, body, reason)
            return
        retry_queue = route.retry_queue(attempt)
        logger.warning(
            "%s failed on event %s (attempt %d of %d), retrying via %s: %s",
            route.handler,
            event_id,
            attempt,
            self._topology.max_attempts,
            retry_queue,
            reason,
            exc_info=exc,
        )
        # Confirmed before the original is acked: a crash in between duplicates, never loses.
        self._publish_channel.basic_publish(
            exchange="",
            routing_key=retry_queue,
            body=body,
            properties=messages.with_headers(properties, {messages.ATTEMPT: attempt + 1}),
            mandatory=True,
        )
        metrics.MESSAGES_RETRIED.labels(route.handler).inc()

    def _dead_letter(self, route: Route, properties: Any, body: bytes, reason: str) -> None:
        self._publish_channel.basic_publish(
            exchange="",
            routing_key=DEAD_LETTER_QUEUE,
            body=body,
            properties=messages.with_headers(
                properties,
                {
                    messages.ORIGIN_QUEUE: route.queue,
                    messages.ERROR: reason[:1000],
                    messages.ATTEMPT: messages.attempt(properties),
                    messages.DEAD_AT: datetime.now(UTC).isoformat(),
                },
            ),
            mandatory=True,
        )
        metrics.MESSAGES_DEAD_LETTERED.labels(route.handler).inc()
