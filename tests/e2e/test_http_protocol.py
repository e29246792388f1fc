"""What every path shares: authentication, problem+json for bad input (400, 404, 405, 413,
422), rate limiting, request ids and logs, and the mapping of unexpected failures."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from dependency_injector import providers
from litestar.testing import TestClient

from core.ports.errors import DependencyUnavailable
from core.ports.queries import StockView
from core.use_cases.inventory import SetStock
from core.use_cases.queries import ProductQueries
from entrypoints.http.app import create_app
from entrypoints.logs import configure_logging
from tests.e2e.http_support import (
    STORAGES,
    Api,
    assert_problem,
    bearer,
    make_container,
    running_api,
)


@pytest.fixture(params=STORAGES)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    with running_api(request.param, tmp_path) as running:
        running.product("MUG-01")
        yield running


V1_OPERATIONS = [
    ("POST", "/v1/products"),
    ("GET", "/v1/products"),
    ("GET", "/v1/products/MUG-01"),
    ("PATCH", "/v1/products/MUG-01"),
    ("GET", "/v1/stock/MUG-01"),
    ("PUT", "/v1/stock/MUG-01"),
    ("POST", "/v1/stock/MUG-01/adjustments"),
    ("POST", "/v1/orders"),
    ("GET", "/v1/orders"),
    ("GET", "/v1/orders/some-id"),
    ("POST", "/v1/orders/some-id/cancel"),
    ("POST", "/v1/orders/some-id/ship"),
    ("GET", "/v1/orders/some-id/events"),
]


def test_every_v1_operation_needs_a_valid_key(api: Api) -> None:
    for authorization in (None, "Bearer", "Bearer not-a-key", "Basic dXNlcjpwYXNz", "bearer  "):
        headers = {} if authorization is None else {"Authorization": authorization}
        for method, path in V1_OPERATIONS:
            r = api.client.request(method, path, headers=headers, json={})
            assert_problem(r, 401, "unauthenticated")
            assert r.headers["www-authenticate"].startswith("Bearer")


def test_roles_are_enforced_on_every_admin_or_customer_only_operation(api: Api) -> None:
    admin_only = [op for op in V1_OPERATIONS if op[0] != "GET" or "/stock/" in op[1]]
    admin_only = [op for op in admin_only if "/orders" not in op[1] or op[1].endswith("/ship")]
    for method, path in admin_only:
        assert_problem(
            api.client.request(method, path, headers=api.alice, json={}), 403, "forbidden"
        )
    assert_problem(api.client.post("/v1/orders", headers=api.admin, json={}), 403, "forbidden")


def test_a_revoked_key_is_401(api: Api) -> None:
    assert api.client.get("/v1/products", headers=api.bob).status_code == 200
    api.container.revoke_principal()("bob")
    assert_problem(api.client.get("/v1/products", headers=api.bob), 401, "unauthenticated")


def test_malformed_json_is_400(api: Api) -> None:
    for body in (b"{", b'{"sku": }', b"\xff\xfe", b"", b"   "):
        r = api.client.post(
            "/v1/products",
            content=body,
            headers={**api.admin, "Content-Type": "application/json"},
        )
        assert_problem(r, 400, "malformed_json")


def test_json_of_the_wrong_shape_is_422(api: Api) -> None:
    for body in (b"[]", b"42", b"null", b'"text"'):
        r = api.client.post("/v1/products", content=body, headers=api.admin)
        assert_problem(r, 422, "validation_error")


def test_body_over_64_kib_is_413(api: Api) -> None:
    big = json.dumps({"sku": "BIG-1", "name": "x" * (64 * 1024), "price": 1}).encode()
    r = api.client.post("/v1/products", content=big, headers=api.admin)
    assert_problem(r, 413, "payload_too_large")
    just_under = json.dumps({"sku": "BIG-1", "name": "n", "price": 1, "pad": " " * 60_000})
    r = api.client.post("/v1/products", content=just_under.encode(), headers=api.admin)
    assert r.status_code == 422, "under the limit the body is read (and the extra field refused)"


def test_unknown_path_is_404_and_wrong_method_405(api: Api) -> None:
    r = api.client.get("/v2/products", headers=api.admin)
    assert_problem(r, 404, "not_found")
    assert r.headers["x-request-id"]
    r = api.client.delete("/v1/products/MUG-01", headers=api.admin)
    assert_problem(r, 405, "method_not_allowed")
    assert "PATCH" in r.headers["allow"]
    assert_problem(api.client.put("/health/live"), 405, "method_not_allowed")


def test_request_id_is_returned_and_a_sane_incoming_one_kept(api: Api) -> None:
    generated = api.client.get("/v1/products", headers=api.alice).headers["x-request-id"]
    assert 16 <= len(generated) <= 64
    kept = api.client.get("/v1/products", headers={**api.alice, "X-Request-ID": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    replaced = api.client.get(
        "/v1/products", headers={**api.alice, "X-Request-ID": "bad id with spaces"}
    )
    assert replaced.headers["x-request-id"] != "bad id with spaces"
    problem = api.client.get("/v1/products/NOPE-1", headers={**api.alice, "X-Request-ID": "r-9"})
    assert problem.json()["request_id"] == "r-9"


def test_logs_are_json_lines_with_the_request_id_and_never_the_key(
    tmp_path: Path,
) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_structlog = structlog.get_config()
    configure_logging("INFO", stream)
    try:
        with running_api("memory", tmp_path) as api:
            api.client.get("/v1/products", headers={**api.alice, "X-Request-ID": "log-me-1"})
            api.client.get("/v1/products", headers=bearer("wrong-key-value-1234"))
            keys = [api.alice["Authorization"], api.admin["Authorization"]]
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        structlog.configure(**saved_structlog)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [x for x in lines if x.get("event") == "request"]
    mine = [x for x in access if x.get("request_id") == "log-me-1"]
    assert len(mine) == 1
    assert mine[0]["status"] == 200 and mine[0]["route"] == "/v1/products"
    assert mine[0]["method"] == "GET" and mine[0]["level"] == "info" and "timestamp" in mine[0]
    text = stream.getvalue()
    for key in [*keys, "wrong-key-value-1234"]:
        assert key.removeprefix("Bearer ") not in text


def test_rate_limit_is_429_with_retry_after_per_key(tmp_path: Path) -> None:
    with running_api("memory", tmp_path, rate_limit_per_minute=3) as api:
        for _ in range(3):
            assert api.client.get("/v1/products", headers=api.alice).status_code == 200
        r = api.client.get("/v1/products", headers=api.alice)
        assert_problem(r, 429, "rate_limited")
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert api.client.get("/v1/products", headers=api.bob).status_code == 200, "per key"
        assert api.client.get("/health/live").status_code == 200, "operations are not limited"


class _BrokenQueries(ProductQueries):
    def get(self, sku: str) -> Any:
        raise RuntimeError("secret detail")


class _DatabaseDown(SetStock):
    def __call__(self, *_: Any, **__: Any) -> StockView:
        raise DependencyUnavailable("database", "connection refused")


def test_an_unexpected_error_is_a_500_problem_without_traceback(tmp_path: Path) -> None:
    container = make_container("memory", tmp_path)
    key = container.create_principal()("root", "admin").api_key
    container.product_queries.override(providers.Object(_BrokenQueries(container.queries())))
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        r = client.get("/v1/products/MUG-01", headers=bearer(key))
    problem = assert_problem(r, 500, "internal_error")
    assert problem["detail"].startswith("an unexpected error"), "the use case's error, mapped"
    assert "secret detail" not in r.text and "Traceback" not in r.text
    assert problem["request_id"] == r.headers["x-request-id"]


def test_a_dependency_down_during_a_request_is_503_naming_it(tmp_path: Path) -> None:
    container = make_container("memory", tmp_path)
    key = container.create_principal()("root", "admin").api_key
    container.set_stock.override(
        providers.Object(_DatabaseDown(container.uow_factory(), container.clock()))
    )
    with TestClient(create_app(container)) as client:
        r = client.put("/v1/stock/MUG-01", json={"on_hand": 1}, headers=bearer(key))
    problem = assert_problem(r, 503, "dependency_unavailable")
    assert problem["dependency"] == "database"
    assert r.headers["retry-after"]
