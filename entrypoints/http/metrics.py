"""Prometheus metrics.

Request counts and latencies by route template and status come from
Litestar's PrometheusMiddleware (it registers them in the process-wide default
registry, where adapters also register theirs, e.g. messaging). Metrics that
belong to one app instance (orders placed through it) live in a registry of
its own, so that building several apps in one process (tests) never registers a
name twice. `/metrics` serves both.

With `orderly serve --workers N`, and beside a delivery process of its own
(entrypoints/delivery_process.py), every process writes its samples to the
directory named by PROMETHEUS_MULTIPROC_DIR (set by `serve`), and any worker
answering /metrics aggregates all of them, so a scrape counts the requests of
every worker and the deliveries of the delivery process.

The outbox backlog is read at scrape time. Delivery (`start_delivery`) exports
it into the default registry; when it has not (an app whose caller manages
delivery differently), this app's own collector exports the same gauges, never
both, since a family may appear only once in an exposition.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import structlog
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from adapters.messaging.metrics import dead_letter_depth
from adapters.webhooks import metrics as webhook_metrics
from core.ports.errors import DependencyUnavailable
from core.ports.queries import OutboxStatus
from entrypoints.http.request_metrics import RouteCachedPrometheusMiddleware
from entrypoints.settings import MULTIPROCESS_ENV

# Litestar appends the charset to text/* media types.
CONTENT_TYPE = "text/plain; version=0.0.4"
log = structlog.get_logger("orderly.http.metrics")


def prometheus_config() -> PrometheusConfig:
    # group_path labels by route template (/v1/orders/{order_id:str}), never raw paths,
    # so label cardinality is bounded by the number of routes.
    return PrometheusConfig(
        app_name="orderly",
        prefix="orderly_http",
        group_path=True,
        exclude=["^/metrics$"],
        middleware_class=RouteCachedPrometheusMiddleware,  # the same metrics, cheaper
    )


class OutboxCollector(Collector):
    """Reads the outbox at scrape time; a database that is down yields no sample."""

    def __init__(self, status: Callable[[], OutboxStatus]) -> None:
        self._status = status

    def describe(self) -> list[Metric]:
        return []  # computed at scrape; describing would query the database at registration

    def collect(self) -> Iterator[Metric]:
        try:
            status = self._status()
        except DependencyUnavailable as exc:
            log.warning("outbox_status_unavailable", dependency=exc.dependency)
            return
        backlog = GaugeMetricFamily(
            "orderly_outbox_backlog", "Events committed but not yet delivered"
        )
        backlog.add_metric([], status.backlog)
        yield backlog
        age = GaugeMetricFamily(
            "orderly_outbox_oldest_age_seconds", "Age of the oldest undelivered event (0 if none)"
        )
        age.add_metric([], status.oldest_age_seconds or 0.0)
        yield age
        depth = dead_letter_depth()
        if depth is not None:
            dead = GaugeMetricFamily(
                "orderly_dead_letters", "Deliveries parked after failing every attempt"
            )
            dead.add_metric([], depth)
            yield dead


# Read from the database at scrape time, never from the workers' sample files.
SCRAPE_TIME_FAMILIES = frozenset(
    {"orderly_outbox_backlog", "orderly_outbox_oldest_age_seconds", "orderly_dead_letters"}
    | webhook_metrics.SCRAPE_TIME_FAMILIES
)


class _Excluding(Collector):
    """Another collector's families, except the named ones."""

    def __init__(self, inner: Collector, names: frozenset[str]) -> None:
        self._inner = inner
        self._names = names

    def collect(self) -> Iterator[Metric]:
        for metric in self._inner.collect():
            if metric.name not in self._names:
                yield metric


class _TrackedWebhookGauges(Collector):
    """This process's scrape-time reading of the webhook gauges, if it tracks them."""

    def collect(self) -> Iterator[Metric]:
        for gauge in webhook_metrics.tracked_gauges():
            yield from gauge.collect()


class AppMetrics:
    def __init__(self, outbox_status: Callable[[], OutboxStatus]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.orders_placed = Counter(
            "orderly_orders_placed",
            "Orders placed through this API process (idempotent replays excluded)",
            registry=self.registry,
        )
        outbox = OutboxCollector(outbox_status)
        self._outbox = CollectorRegistry(auto_describe=False)
        self._outbox.register(outbox)
        # Where samples are shared through files: what this process reads at scrape time.
        self._scrape_time = CollectorRegistry(auto_describe=False)
        self._scrape_time.register(outbox)
        self._scrape_time.register(_TrackedWebhookGauges())

    def render(self) -> bytes:
        if os.environ.get(MULTIPROCESS_ENV):
            # Every worker's counters and histograms (ours, Litestar's, messaging's).
            workers = CollectorRegistry(auto_describe=False)
            every = MultiProcessCollector(None)  # type: ignore[no-untyped-call]
            workers.register(_Excluding(every, SCRAPE_TIME_FAMILIES))
            return generate_latest(workers) + generate_latest(self._scrape_time)
        shared = generate_latest(REGISTRY)
        own = generate_latest(self.registry)
        if b"# TYPE orderly_outbox_backlog gauge" not in shared:
            own += generate_latest(self._outbox)
        return shared + own

    def handler(self) -> HTTPRouteHandler:
        @get(
            "/metrics",
            sync_to_thread=True,
            media_type=CONTENT_TYPE,
            tags=["operations"],
            summary="Prometheus metrics",
            description="Prometheus text exposition format. Needs no authentication.",
            operation_id="getMetrics",
        )
        def metrics() -> Response[bytes]:
            return Response(self.render(), media_type=CONTENT_TYPE)

        return metrics
