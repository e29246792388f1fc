"""The route-cached Prometheus middleware records exactly what Litestar's own does."""

from __future__ import annotations

import re

from litestar import Litestar, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from litestar.testing import TestClient
from prometheus_client import REGISTRY, generate_latest

from entrypoints.http.request_metrics import RouteCachedPrometheusMiddleware


@get("/things/{name:str}", sync_to_thread=False)
def thing(name: FromPath[str]) -> dict[str, str]:
    if name == "missing":
        raise NotFoundException("no such thing")
    if name == "broken":
        raise RuntimeError("boom")
    return {"name": name}


@post("/things", sync_to_thread=False)
def create() -> dict[str, str]:
    return {"created": "yes"}


def app(prefix: str, middleware: type[PrometheusMiddleware]) -> Litestar:
    config = PrometheusConfig(
        app_name="cmp", prefix=prefix, group_path=True, middleware_class=middleware
    )
    return Litestar([thing, create], middleware=[config.middleware])


def samples(prefix: str) -> dict[str, float]:
    """This prefix's samples, durations' sums left out (they differ run to run)."""
    found: dict[str, float] = {}
    for line in generate_latest(REGISTRY).decode().splitlines():
        if line.startswith(prefix) and "_created" not in line and "_sum{" not in line:
            key, value = line.rsplit(" ", 1)
            found[key.removeprefix(prefix)] = float(value)
    return found


def test_the_same_families_labels_and_counts_as_litestars_middleware() -> None:
    for prefix, middleware in (
        ("cmp_fast", RouteCachedPrometheusMiddleware),
        ("cmp_ref", PrometheusMiddleware),
    ):
        with TestClient(app(prefix, middleware)) as client:
            for path in ("/things/a", "/things/b", "/things/missing", "/things/broken"):
                client.get(path)
            client.post("/things")
            client.post("/things")
    fast, reference = samples("cmp_fast"), samples("cmp_ref")
    assert fast == reference
    route = 'app_name="cmp",method="GET",path="/things/{name}"'
    assert fast[f'_requests_total{{{route},status_code="200"}}'] == 2
    assert fast[f'_requests_total{{{route},status_code="404"}}'] == 1
    assert fast[f'_requests_error_total{{{route},status_code="500"}}'] == 1
    assert fast[f'_requests_in_progress{{{route},status_code="200"}}'] == 0
    assert any(re.match(r'_request_duration_seconds_bucket\{.*status_code="201"', k) for k in fast)
