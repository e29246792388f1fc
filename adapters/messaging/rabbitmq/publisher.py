"""Publishing events with publisher confirms, a batch at a time.

A blocking pika channel in confirm mode waits for each message's confirm before
sending the next (one round trip per event). This publisher sends the whole
batch, then waits until the broker has confirmed every delivery tag of it: the
same guarantee (`publish` returns only once the broker has taken responsibility
for every message), one round trip per batch. benchmarks/bench_messaging.py
measures both.

pika's asynchronous connection runs on an asyncio loop in a thread of its own;
callers hand it work through the loop, so the connection is only ever touched
by that one thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Sequence
from typing import Any

import pika
import pika.spec
from pika.adapters.asyncio_connection import AsyncioConnection

from adapters.messaging.rabbitmq import messages
from adapters.messaging.rabbitmq.connection import (
    BROKER_ERRORS,
    mask_url,
    parameters,
    unavailable,
)
from adapters.messaging.rabbitmq.topology import BCC, EXCHANGE, Topology
from adapters.tracing import otel
from core.domain.events import EventEnvelope
from core.ports.errors import DependencyUnavailable

logger = logging.getLogger("orderly.messaging.publisher")

Message = tuple[str, bytes, Any]  # routing key, body, properties


class _ConfirmLink:
    """One connection and confirm-mode channel; lives on the loop thread only."""

    def __init__(self, loop: asyncio.AbstractEventLoop, url: str) -> None:
        self._loop = loop
        self._url = url
        self._unconfirmed: set[int] = set()
        self._batch_done: asyncio.Future[None] | None = None
        self._next_tag = 0
        self._connection: Any = None
        self._channel: Any = None
        self.broken = False

    async def open(self, params: Any, timeout: float) -> None:
        opened: asyncio.Future[None] = self._loop.create_future()

        def settle(exc: BaseException | None) -> None:
            if opened.done():
                return
            if exc is None:
                opened.set_result(None)
            else:
                opened.set_exception(exc)

        def on_channel(channel: Any) -> None:
            self._channel = channel
            channel.add_on_close_callback(self._on_channel_closed)
            channel.confirm_delivery(
                ack_nack_callback=self._on_confirm, callback=lambda _: settle(None)
            )

        def on_open_error(_connection: Any, exc: BaseException) -> None:
            self.broken = True
            settle(unavailable(exc, self._url))

        def on_closed(_connection: Any, exc: BaseException) -> None:
            self._break(unavailable(exc, self._url))
            settle(unavailable(exc, self._url))

        self._connection = AsyncioConnection(
            params,
            on_open_callback=lambda connection: connection.channel(on_open_callback=on_channel),
            on_open_error_callback=on_open_error,
            on_close_callback=on_closed,
            custom_ioloop=self._loop,
        )
        try:
            await asyncio.wait_for(opened, timeout)
        except TimeoutError:
            self.close()
            raise DependencyUnavailable(
                "rabbitmq", f"no connection within {timeout:g}s at {mask_url(self._url)}"
            ) from None

    async def publish(self, batch: Sequence[Message]) -> None:
        """Send every message, then wait until the broker has confirmed all of them."""
        if self.broken or self._channel is None or not self._channel.is_open:
            raise DependencyUnavailable("rabbitmq", "publisher channel is closed")
        done: asyncio.Future[None] = self._loop.create_future()
        first = self._next_tag + 1
        self._next_tag += len(batch)
        self._unconfirmed = set(range(first, self._next_tag + 1))
        self._batch_done = done
        try:
            for routing_key, body, properties in batch:
                self._channel.basic_publish(EXCHANGE, routing_key, body, properties)
        except BROKER_ERRORS as exc:
            self._break(unavailable(exc, self._url))
            raise unavailable(exc, self._url) from exc
        await done

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag = method.delivery_tag
        if not isinstance(method, pika.spec.Basic.Ack):
            self._break(DependencyUnavailable("rabbitmq", "the broker refused (nacked) a message"))
            return
        if method.multiple:
            self._unconfirmed = {t for t in self._unconfirmed if t > tag}
        else:
            self._unconfirmed.discard(tag)
        done = self._batch_done
        if not self._unconfirmed and done is not None and not done.done():
            done.set_result(None)

    def _on_channel_closed(self, _channel: Any, exc: BaseException) -> None:
        self._break(unavailable(exc, self._url))
        self.close()

    def _break(self, exc: DependencyUnavailable) -> None:
        self.broken = True
        done, self._batch_done = self._batch_done, None
        if done is not None and not done.done():
            done.set_exception(exc)

    def close(self) -> None:
        self.broken = True
        connection = self._connection
        if connection is not None and not (connection.is_closed or connection.is_closing):
            with contextlib.suppress(*BROKER_ERRORS):
                connection.close()


def _encode(envelope: EventEnvelope, selected: list[str]) -> tuple[bytes, Any]:
    body, properties = messages.encode(envelope)
    if selected:  # selective handlers' keys (topology.py): routed, never delivered
        properties.headers[BCC] = selected
    if otel.enabled():  # a publish span per event; its traceparent travels in the headers
        properties.headers.update(otel.publish_headers(envelope, EXCHANGE))
    return body, properties


class RabbitPublisher:
    """The RabbitMQ publisher: `publish` returns once every message is confirmed."""

    def __init__(
        self,
        url: str,
        topology: Topology,
        confirm_timeout: float = 30.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self._url = url
        self._topology = topology
        self._confirm_timeout = confirm_timeout
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._link: _ConfirmLink | None = None  # touched on the loop thread only
        self._declared = False

    def publish(self, envelopes: Sequence[EventEnvelope]) -> None:
        if not envelopes:
            return
        # Asked after the relay claimed the batch, so after these events committed.
        selected = self._topology.selected_keys(envelopes)
        batch = [
            (envelope.type, *_encode(envelope, keys))
            for envelope, keys in zip(envelopes, selected, strict=True)
        ]
        with self._lock:
            if not self._declared:
                self.declare_topology()
            loop = self._ensure_loop()
            future = asyncio.run_coroutine_threadsafe(self._publish(batch), loop)
            try:
                future.result(timeout=self._confirm_timeout + self._connect_timeout + 5)
            except concurrent.futures.TimeoutError:
                future.cancel()
                self._declared = False
                raise DependencyUnavailable("rabbitmq", "publish timed out") from None
            except DependencyUnavailable:
                self._declared = False
                raise

    def declare_topology(self) -> None:
        """Declare exchange, queues and bindings (a short blocking connection), so that
        nothing published is dropped for want of a bound queue."""
        try:
            connection = pika.BlockingConnection(
                parameters(self._url, timeout=self._connect_timeout)
            )
        except BROKER_ERRORS as exc:
            raise unavailable(exc, self._url) from exc
        try:
            self._topology.declare(connection.channel())
        except BROKER_ERRORS as exc:
            raise unavailable(exc, self._url) from exc
        finally:
            if connection.is_open:
                connection.close()
        self._declared = True

    async def _publish(self, batch: Sequence[Message]) -> None:
        if self._link is None or self._link.broken:
            if self._link is not None:
                self._link.close()  # a nacked or timed-out link may still be connected
            link = _ConfirmLink(asyncio.get_running_loop(), self._url)
            self._link = link
            await link.open(
                parameters(self._url, timeout=self._connect_timeout), self._connect_timeout
            )
        link = self._link
        try:
            await asyncio.wait_for(link.publish(batch), self._confirm_timeout)
        except TimeoutError:
            link.close()
            raise DependencyUnavailable(
                "rabbitmq", f"no publisher confirm within {self._confirm_timeout:g}s"
            ) from None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="orderly-publisher-io", daemon=True
            )
            thread.start()
            self._loop, self._thread = loop, thread
        return self._loop

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None:
                return

            async def shutdown() -> None:
                if self._link is not None:
                    self._link.close()
                    self._link = None
                await asyncio.sleep(0.05)  # let the close frames go out

            with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
                asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            if not thread.is_alive():
                loop.close()
            self._loop = self._thread = None
