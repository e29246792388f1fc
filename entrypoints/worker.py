"""The consumer process (`orderly worker`) and the relay process (`orderly relay`).

The worker runs one RabbitMQ consumer per thread (each with its own connection),
each handler's share of what a consumer received as one batch (one unit of work,
inbox dedupe), and the
payment-timeout sweep every `ORDERLY_SWEEP_INTERVAL_SECONDS`. SIGTERM or SIGINT
stops it gracefully: consumers stop taking deliveries, the handler in progress
finishes and is acked, prefetched messages go back to the queue.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from adapters.messaging.dispatch import HandlerDispatcher
from adapters.messaging.rabbitmq.consumer import RabbitConsumer
from adapters.messaging.relay import OutboxRelay
from entrypoints.container import Container
from entrypoints.delivery import listen_for_outbox, track_delivery_metrics
from entrypoints.heap import settle_heap
from entrypoints.sweeper import Sweeper
from entrypoints.webhook_sender import webhook_runner

logger = logging.getLogger("orderly.worker")

# Transient failures are retried this many times in the worker before the message
# goes to a delayed retry queue (which frees the consumer for other messages).
IN_PROCESS_ATTEMPTS = 3


class StopSignals:
    """Record SIGTERM/SIGINT. The handler only sets a flag: taking a lock inside a
    signal handler can deadlock with the code it interrupted."""

    def __init__(self) -> None:
        self.received: int | None = None

    def install(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum


def _supervise(
    threads: list[threading.Thread], stop: Callable[[], None], signals: StopSignals
) -> int:
    """Wait in the main thread until a signal arrives or a thread ends, then stop all.

    Returns the exit status: 0 when stopped by a signal, 1 when a thread died (a bug:
    exit so that the process supervisor restarts it)."""
    while signals.received is None and all(t.is_alive() for t in threads):
        time.sleep(0.2)
    status = 0
    if signals.received is not None:
        logger.info("received %s, stopping", signal.Signals(signals.received).name)
    else:
        dead = [t.name for t in threads if not t.is_alive()]
        logger.error("thread %s ended unexpectedly, stopping", ", ".join(dead))
        status = 1
    stop()
    for thread in threads:
        thread.join(timeout=60)
    return status


class Worker:
    def __init__(self, container: Container, threads: int = 1) -> None:
        self._container = container
        self._stop = threading.Event()
        dispatcher = HandlerDispatcher(container.handlers(), attempts=IN_PROCESS_ATTEMPTS)
        topology = container.rabbitmq_topology()
        self.consumers = [
            RabbitConsumer(
                container.config.rabbitmq_url(),
                topology,
                dispatcher,
                self._stop,
                prefetch=container.config.rabbitmq_prefetch(),
            )
            for _ in range(threads)
        ]
        self._sweep_interval = float(container.config.sweep_interval_seconds())
        # Webhook deliveries are sent from here in RabbitMQ mode (fed by the fan-out's queue).
        self.webhooks = webhook_runner(container, self._stop)

    def threads(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=consumer.run, name=f"orderly-consumer-{n}", daemon=True)
            for n, consumer in enumerate(self.consumers, 1)
        ]
        sweeper = Sweeper(
            self._container.expire_orders(),
            self._container.purge_idempotency(),
            self._sweep_interval,
            self._stop,
        )
        threads.append(threading.Thread(target=sweeper.run, name="orderly-sweep", daemon=True))
        threads.append(self.webhooks.thread())
        return threads

    def stop(self) -> None:
        self._stop.set()
        self.webhooks.wake()

    def run(self, signals: StopSignals | None = None) -> int:
        threads = self.threads()
        settle_heap()
        for thread in threads:
            thread.start()
        logger.info(
            "worker started: %d consumer thread(s) on %d queue(s), sweep every %.0fs",
            len(self.consumers),
            len(self._container.rabbitmq_topology().consumed()),
            self._sweep_interval,
        )
        status = _supervise(threads, self.stop, signals or StopSignals())
        logger.info("worker stopped")
        return status


def run_worker(container: Container, threads: int = 1) -> int:
    """Run the worker until SIGTERM/SIGINT; returns the process exit status."""
    signals = StopSignals().install()
    track_delivery_metrics(container)
    return Worker(container, threads).run(signals)


# Relay loops per `orderly relay` process. A loop spends most of a pass waiting for
# its batch's publisher confirms (the broker's fsync); a second loop, with its own
# connection, claims and publishes the next batch meanwhile (the claims are disjoint:
# SKIP LOCKED on PostgreSQL, a lease on SQLite). benchmarks/README.md has the figures.
RELAY_LOOPS = 2


def run_relay(container: Container, loops: int = RELAY_LOOPS) -> int:
    """Move the outbox to RabbitMQ until SIGTERM; safe to run as several processes."""
    signals = StopSignals().install()
    track_delivery_metrics(container)
    # On PostgreSQL every commit with outbox rows sends a NOTIFY (a trigger) that wakes us at
    # once; the adaptive poll (10 ms, doubling to 250 ms when idle) is the safety
    # net while the listener reconnects, and the only wake-up on SQLite.
    publishers = [container.rabbitmq_publisher() for _ in range(loops)]
    relays = [
        OutboxRelay(
            container.outbox(),
            publisher.publish,
            batch_size=container.config.relay_batch_size(),
            max_idle=0.25,
        )
        for publisher in publishers
    ]
    threads = [
        threading.Thread(target=relay.run, name=f"orderly-relay-{n}", daemon=True)
        for n, relay in enumerate(relays, 1)
    ]
    settle_heap()
    for thread in threads:
        thread.start()

    def wake() -> None:
        for relay in relays:
            relay.wake()

    def stop() -> None:
        for relay in relays:
            relay.stop()

    listener = listen_for_outbox(container, wake)
    logger.info("relay started (%d loop(s), batch %d)", loops, container.config.relay_batch_size())
    try:
        status = _supervise(threads, stop, signals)
    finally:
        if listener is not None:
            listener.stop()
        for publisher in publishers:
            publisher.close()
    logger.info("relay stopped")
    return status


def drain_outbox(container: Container) -> int:
    """Relay everything now and return how many events were published (`--once`).

    The broker is checked first (declaring the topology), so that an unreachable
    broker or a refused login is an error even when nothing is waiting."""
    publisher = container.rabbitmq_publisher()
    try:
        publisher.declare_topology()
        relay = OutboxRelay(
            container.outbox(), publisher.publish, batch_size=container.config.relay_batch_size()
        )
        return relay.drain()
    finally:
        publisher.close()
