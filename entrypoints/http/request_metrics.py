"""Litestar's Prometheus request metrics, with the label lookups done once per route.

Litestar's PrometheusMiddleware builds a Request, a label dict and four
`metric.labels(...)` children on every request (each a lock and a string
conversion of every value): a tenth of the event loop's time for GET
/v1/orders/{id} in a profile. This subclass records the very same families,
names, labels and values (the in-progress gauge labelled with status 200, as
Litestar does; errors counted for 5xx), but keeps the children it resolved per
(method, route template) and (method, route template, status), which are bounded
by the routes. Configurations using what it does not cover (extra labels,
exemplars, raw paths, excluded methods) fall back to Litestar's own code.
"""

from __future__ import annotations

import time
from typing import Any, cast

from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

_Finished = tuple[Counter, Histogram, Counter | None]  # count, duration, errors (5xx)


class RouteCachedPrometheusMiddleware(PrometheusMiddleware):
    def __init__(self, app: ASGIApp, config: PrometheusConfig) -> None:
        super().__init__(app, config)
        self._fast = (
            config.group_path
            and not config.labels
            and config.exemplars is None
            and not config.excluded_http_methods
        )
        self._app_name = config.app_name
        self._started: dict[tuple[str, str], Gauge] = {}
        self._finished: dict[tuple[str, str, int], _Finished] = {}

    def _labels(self, method: str, path: str, status: int) -> dict[str, str | int | float]:
        # The order Litestar's `_get_default_labels` gives, which names the label columns.
        return {"method": method, "path": path, "status_code": status, "app_name": self._app_name}

    def _in_progress(self, method: str, path: str) -> Gauge:
        key = (method, path)
        child = self._started.get(key)
        if child is None:
            labels = self._labels(method, path, 200)
            child = self._started[key] = self.requests_in_progress(labels).labels(*labels.values())
        return child

    def _outcome(self, method: str, path: str, status: int) -> _Finished:
        key = (method, path, status)
        children = self._finished.get(key)
        if children is None:
            labels = self._labels(method, path, status)
            values = [*labels.values()]
            errors = self.requests_error_count(labels).labels(*values) if status >= 500 else None
            children = self._finished[key] = (
                self.request_count(labels).labels(*values),
                self.request_time(labels).labels(*values),
                errors,
            )
        return children

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._fast:
            await super().__call__(scope, receive, send)
            return
        method = cast(str, scope.get("method") or scope["type"])
        path: str = scope["path_template"]
        started = time.perf_counter()
        span: list[Any] = [200, 0.0]  # status, duration (at the last body message)

        async def wrapped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                span[0] = message["status"]
            elif message["type"] == "http.response.body":
                span[1] = time.perf_counter() - started
            await send(message)

        in_progress = self._in_progress(method, path)
        in_progress.inc()
        try:
            await self.app(scope, receive, wrapped_send)
        finally:
            in_progress.dec()
            count, duration, errors = self._outcome(method, path, span[0])
            if errors is not None:
                errors.inc()
            count.inc()
            duration.observe(span[1])
