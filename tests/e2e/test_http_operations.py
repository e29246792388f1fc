"""Operations: /health/live, /health/ready, /metrics, and /schema served with no internet."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from core.ports.errors import DependencyUnavailable
from entrypoints.http.app import create_app
from tests.e2e.http_support import STORAGES, assert_problem, make_container, running_api


class _DownQueries:
    """Read queries whose storage does not answer (only what readiness and auth touch)."""

    def ping(self) -> None:
        raise DependencyUnavailable("database", "connection refused")


def _broker_down() -> None:
    raise DependencyUnavailable("rabbitmq", "connection refused")


@pytest.mark.parametrize("storage", STORAGES)
def test_live_and_ready_answer_200_when_dependencies_are_up(storage: str, tmp_path: Path) -> None:
    with running_api(storage, tmp_path) as api:
        live = api.client.get("/health/live")
        assert live.status_code == 200 and live.json() == {"status": "ok", "checks": {}}
        ready = api.client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_ready_is_503_naming_the_database_when_it_is_down(tmp_path: Path) -> None:
    container = make_container("memory", tmp_path)
    container.queries.override(providers.Object(_DownQueries()))
    with TestClient(create_app(container)) as client:
        assert client.get("/health/live").status_code == 200, "alive, just not ready"
        r = client.get("/health/ready")
    problem = assert_problem(r, 503, "dependency_unavailable")
    assert problem["dependency"] == "database" and "database" in problem["detail"]
    assert r.headers["retry-after"]


def test_ready_checks_the_broker_when_events_go_through_rabbitmq(tmp_path: Path) -> None:
    container = make_container("memory", tmp_path)
    container.config.delivery.from_value("rabbitmq")
    container.broker_health.override(providers.Object(_broker_down))
    with TestClient(create_app(container)) as client:
        r = client.get("/health/ready")
        problem = assert_problem(r, 503, "dependency_unavailable")
        assert problem["dependency"] == "broker"
        container.broker_health.override(providers.Object(lambda: None))
        ok = client.get("/health/ready")
    assert ok.status_code == 200
    assert ok.json()["checks"] == {"database": "ok", "broker": "ok"}


def _sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, value = line.rsplit(" ", 1)
        metric, _, label_text = head.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', label_text))
        if metric == name and all(found.get(k) == v for k, v in labels.items()):
            return float(value)
    return None


@pytest.mark.parametrize("storage", STORAGES)
def test_metrics_count_requests_by_route_and_status_orders_and_backlog(
    storage: str, tmp_path: Path
) -> None:
    with running_api(storage, tmp_path) as api:
        api.product("MUG-01")
        before = api.client.get("/metrics").text
        route = "/v1/products/{sku}"
        ok_before = _sample(before, "orderly_http_requests_total", path=route, status_code="200")
        api.client.get("/v1/products/MUG-01", headers=api.alice)
        api.client.get("/v1/products/NOPE-1", headers=api.alice)
        api.order(api.alice, ("MUG-01", 1))
        api.client.post(
            "/v1/orders",
            json={"lines": [{"sku": "MUG-01", "quantity": 1}]},
            headers={**api.alice, "Idempotency-Key": "m-1"},
        )
        api.client.post(
            "/v1/orders",
            json={"lines": [{"sku": "MUG-01", "quantity": 1}]},
            headers={**api.alice, "Idempotency-Key": "m-1"},
        )
        r = api.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    ok = _sample(text, "orderly_http_requests_total", path=route, status_code="200")
    assert ok == (ok_before or 0) + 1
    assert _sample(text, "orderly_http_requests_total", path=route, status_code="404")
    assert _sample(text, "orderly_http_request_duration_seconds_count", path=route)
    assert _sample(text, "orderly_orders_placed_total") == 2, "the replay is not counted"
    backlog = _sample(text, "orderly_outbox_backlog")
    assert backlog is not None and backlog >= 0
    assert text.count("# TYPE orderly_outbox_backlog gauge") == 1
    assert _sample(text, "orderly_outbox_oldest_age_seconds") is not None
    assert _sample(text, "orderly_dead_letters") == 0  # in-process: the dead-letter store
    assert text.count("# TYPE orderly_dead_letters gauge") == 1
    assert "python_info" in text, "the process-wide default registry is exported too"


def test_schema_serves_the_openapi_document_with_every_operation(tmp_path: Path) -> None:
    with running_api("memory", tmp_path) as api:
        r = api.client.get("/schema/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    assert doc["openapi"].startswith("3.1")
    operations = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert operations == {
        ("POST", "/v1/products"),
        ("GET", "/v1/products"),
        ("GET", "/v1/products/{sku}"),
        ("PATCH", "/v1/products/{sku}"),
        ("GET", "/v1/stock/{sku}"),
        ("PUT", "/v1/stock/{sku}"),
        ("POST", "/v1/stock/{sku}/adjustments"),
        ("POST", "/v1/orders"),
        ("GET", "/v1/orders"),
        ("GET", "/v1/orders/{order_id}"),
        ("POST", "/v1/orders/{order_id}/cancel"),
        ("POST", "/v1/orders/{order_id}/ship"),
        ("GET", "/v1/orders/{order_id}/events"),
        ("POST", "/v1/webhooks"),
        ("GET", "/v1/webhooks"),
        ("GET", "/v1/webhooks/{webhook_id}"),
        ("PATCH", "/v1/webhooks/{webhook_id}"),
        ("DELETE", "/v1/webhooks/{webhook_id}"),
        ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"),
        ("GET", "/v1/webhooks/{webhook_id}/deliveries"),
        ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"),
        ("GET", "/health/live"),
        ("GET", "/health/ready"),
        ("GET", "/metrics"),
    }
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    schemas = doc["components"]["schemas"]
    for closed in ("CreateProductIn", "UpdateProductIn", "SetStockIn", "AdjustStockIn",
                   "PlaceOrderIn", "OrderLineIn"):  # fmt: skip
        assert schemas[closed]["additionalProperties"] is False, closed
    assert "additionalProperties" not in schemas["OrderOut"]
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    place = doc["paths"]["/v1/orders"]["post"]
    assert {"201", "409", "422", "401", "403", "429"} <= set(place["responses"])
    assert place["responses"]["409"]["content"]["application/problem+json"]


def test_docs_page_uses_only_assets_served_by_orderly(tmp_path: Path) -> None:
    with running_api("memory", tmp_path) as api:
        page = api.client.get("/schema")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        urls = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', page.text)
        assert urls, "the page loads scripts and styles"
        assert all(url.startswith("/schema/assets/") for url in urls), urls
        assert "http://" not in page.text.split("<body>")[0]
        assert "https://" not in page.text.split("<body>")[0]
        for url in urls:
            asset = api.client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 100, url
        js = api.client.get("/schema/assets/swagger-ui-bundle.js")
        assert "javascript" in js.headers["content-type"]


@pytest.mark.rabbitmq
def test_ready_names_a_real_broker_that_does_not_answer(rabbitmq_url: str, tmp_path: Path) -> None:
    up = make_container("memory", tmp_path, messaging="rabbitmq", rabbitmq_url=rabbitmq_url)
    with TestClient(create_app(up)) as client:
        ok = client.get("/health/ready")
    assert ok.status_code == 200 and ok.json()["checks"] == {"database": "ok", "broker": "ok"}
    down = make_container(
        "memory", tmp_path, messaging="rabbitmq", rabbitmq_url="amqp://guest:guest@127.0.0.1:1/%2F"
    )
    with TestClient(create_app(down)) as client:
        r = client.get("/health/ready")
    assert assert_problem(r, 503, "dependency_unavailable")["dependency"] == "broker"
