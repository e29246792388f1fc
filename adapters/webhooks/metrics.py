"""Prometheus metrics of webhook delivery (default registry: /metrics and the worker's
metrics port export them). Pending count, oldest age and open circuits are read
from the store at scrape time, at most once a second."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge

from core.ports.webhooks import WebhookStats

logger = logging.getLogger("orderly.webhooks")

OUTCOMES = ("succeeded", "retried", "failed")

DELIVERIES = Counter(
    "orderly_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: succeeded; retried (failed, will retry); "
    "failed (attempts spent, waits for a redelivery)",
    ["outcome"],
)
PENDING = Gauge("orderly_webhook_pending_deliveries", "Webhook deliveries not yet done")
OLDEST_PENDING_AGE = Gauge(
    "orderly_webhook_oldest_pending_age_seconds",
    "Age of the oldest pending webhook delivery (0 if none)",
)
OPEN_CIRCUITS = Gauge(
    "orderly_webhook_open_circuits", "Subscriptions whose circuit is open or half-open"
)
for _outcome in OUTCOMES:
    DELIVERIES.labels(_outcome)


def count_outcome(outcome: str) -> None:
    DELIVERIES.labels(outcome).inc()


class _Sampler:
    def __init__(self, stats: Callable[[], WebhookStats], ttl: float = 1.0) -> None:
        self._stats = stats
        self._ttl = ttl
        self._lock = threading.Lock()
        self._at = -math.inf
        self._value: WebhookStats | None = None

    def sample(self) -> WebhookStats | None:
        with self._lock:
            if time.monotonic() - self._at >= self._ttl:
                self._at = time.monotonic()
                try:
                    self._value = self._stats()
                except Exception:  # storage down: NaN, never a failed scrape
                    logger.warning("could not read the webhook stats", exc_info=True)
                    self._value = None
            return self._value

    def pending(self) -> float:
        value = self.sample()
        return math.nan if value is None else float(value.pending)

    def oldest_age(self) -> float:
        value = self.sample()
        if value is None:
            return math.nan
        if value.oldest_pending_at is None:
            return 0.0
        return max(0.0, (datetime.now(UTC) - value.oldest_pending_at).total_seconds())

    def open_circuits(self) -> float:
        value = self.sample()
        return math.nan if value is None else float(value.open_circuits)


# Read from the store when scraped: where processes share their samples through files
# (`orderly serve` beside its delivery process, or with --workers), the process that
# answers /metrics exports its own reading of these, not the files' stale values.
SCRAPE_TIME_GAUGES = (PENDING, OLDEST_PENDING_AGE, OPEN_CIRCUITS)
SCRAPE_TIME_FAMILIES = frozenset(
    family.name for gauge in SCRAPE_TIME_GAUGES for family in gauge.describe()
)
_tracked = False


def tracked_gauges() -> tuple[Gauge, ...]:
    """SCRAPE_TIME_GAUGES once `track_webhooks` has run in this process, else none."""
    return SCRAPE_TIME_GAUGES if _tracked else ()


def track_webhooks(stats: Callable[[], WebhookStats]) -> None:
    global _tracked
    _tracked = True
    sampler = _Sampler(stats)
    PENDING.set_function(sampler.pending)
    OLDEST_PENDING_AGE.set_function(sampler.oldest_age)
    OPEN_CIRCUITS.set_function(sampler.open_circuits)
