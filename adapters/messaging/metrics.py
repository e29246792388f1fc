"""Prometheus metrics for event delivery (the default registry, so /metrics and the
worker's metrics port export them)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from prometheus_client import Counter, Gauge

from core.ports.queries import OutboxStatus

logger = logging.getLogger("orderly.messaging")

MESSAGES_HANDLED = Counter(
    "orderly_messages_handled_total",
    "Deliveries a handler processed successfully (redeliveries included)",
    ["handler"],
)
MESSAGES_RETRIED = Counter(
    "orderly_messages_retried_total",
    "Failed handler runs retried, in place (transient errors) or through a retry queue",
    ["handler"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "orderly_messages_dead_lettered_total",
    "Messages moved to the dead-letter queue",
    ["handler"],
)
EVENTS_RELAYED = Counter(
    "orderly_outbox_relayed_total", "Outbox events handed to delivery and marked sent"
)
OUTBOX_BACKLOG = Gauge("orderly_outbox_backlog", "Outbox events not yet delivered")
DEAD_LETTERS = Gauge(
    "orderly_dead_letters",
    "Deliveries parked after failing every attempt (dead-letter table or queue depth)",
)
OUTBOX_OLDEST_AGE = Gauge(
    "orderly_outbox_oldest_age_seconds", "Age of the oldest undelivered outbox event (0 if none)"
)


T = TypeVar("T")


class _Sampler(Generic[T]):
    """Reads a value at most once a second, on scrape."""

    def __init__(self, status: Callable[[], T], ttl: float = 1.0) -> None:
        self._status = status
        self._ttl = ttl
        self._lock = threading.Lock()
        self._at = -math.inf
        self._value: T | None = None

    def sample(self) -> T | None:
        with self._lock:
            if time.monotonic() - self._at >= self._ttl:
                self._at = time.monotonic()
                try:
                    self._value = self._status()
                except Exception:  # storage down: the gauges say "unknown" (NaN), no 500
                    logger.warning("could not read %s", self._status, exc_info=True)
                    self._value = None
            return self._value


class _OutboxSampler(_Sampler[OutboxStatus]):
    def backlog(self) -> float:
        value = self.sample()
        return math.nan if value is None else float(value.backlog)

    def oldest_age(self) -> float:
        value = self.sample()
        if value is None:
            return math.nan
        return value.oldest_age_seconds or 0.0


def track_outbox(status: Callable[[], OutboxStatus]) -> None:
    """Export the outbox backlog and age, read from `status` when metrics are scraped."""
    sampler = _OutboxSampler(status)
    OUTBOX_BACKLOG.set_function(sampler.backlog)
    OUTBOX_OLDEST_AGE.set_function(sampler.oldest_age)


_dead_letters: _Sampler[int] | None = None


def track_dead_letters(count: Callable[[], int]) -> None:
    """Export the dead-letter depth, read from `count` (sampled) when metrics are scraped."""
    global _dead_letters
    sampler = _dead_letters = _Sampler(count, ttl=2.0)

    def depth() -> float:
        value = sampler.sample()
        return math.nan if value is None else float(value)

    DEAD_LETTERS.set_function(depth)


def dead_letter_depth() -> float | None:
    """The sampled dead-letter depth for scrape-time collectors (None: not tracked or
    unreadable), e.g. `orderly serve --workers N`, whose gauges cannot live in the
    shared sample files."""
    value = None if _dead_letters is None else _dead_letters.sample()
    return None if value is None else float(value)
