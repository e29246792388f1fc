"""The request path stays short: statements per request and thread hops are counted.

Wall-clock time is never asserted; these counts are what made requests slow
before (issue: two thread hops and a dozen statements per GET), and a change
that adds one shows up here first. SQLite's trace callback sees every statement
the driver runs, including BEGIN and COMMIT and those run on the driver cursor.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import event

from entrypoints.http.app import create_app
from tests.e2e.http_support import bearer, make_container

LINES = [{"sku": f"SKU-{i}", "quantity": i} for i in (1, 2, 3)]


class Trace:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, sql: str) -> None:
        with self._lock:
            self.statements.append(sql.split(None, 2)[0].upper())
            self.threads.add(threading.current_thread().name)

    def reset(self) -> None:
        self.statements.clear()
        self.threads.clear()


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[TestClient[Any], Trace, dict[str, str], Any]]:
    container = make_container("sqlite", tmp_path)
    admin = container.create_principal()("root", "admin").api_key
    alice = container.create_principal()("alice", "customer").api_key
    trace = Trace()

    @event.listens_for(container.database().engine, "checkout")
    def _on_checkout(dbapi_conn: Any, *_: Any) -> None:
        dbapi_conn.set_trace_callback(trace)

    # No delivery: only the request's own statements are counted.
    app = create_app(container, deliver_events=False)
    with TestClient(app) as client:
        for i in (1, 2, 3):
            r = client.post(
                "/v1/products",
                json={"sku": f"SKU-{i}", "name": "p", "price": 100, "on_hand": 1000},
                headers=bearer(admin),
            )
            assert r.status_code == 201, r.text
        yield client, trace, bearer(alice), app.state.offload


def test_placing_an_order_is_one_thread_hop_and_one_transaction(traced: Any) -> None:
    client, trace, alice, offload = traced
    hops = offload.hops
    trace.reset()
    r = client.post("/v1/orders", json={"lines": LINES}, headers=alice)
    assert r.status_code == 201, r.text
    assert offload.hops - hops == 1, "authentication inline, the placement in the writer"
    assert trace.statements.count("BEGIN") == 1 and trace.statements.count("COMMIT") == 1
    # key lookup; products; stock; 3 stock updates; 3 reservations; order; 3 lines; outbox
    assert len(trace.statements) <= 16, trace.statements


def test_reading_an_order_is_two_statements_and_no_thread_hop(traced: Any) -> None:
    client, trace, alice, offload = traced
    order = client.post("/v1/orders", json={"lines": LINES}, headers=alice).json()
    hops = offload.hops
    trace.reset()
    r = client.get(f"/v1/orders/{order['id']}", headers=alice)
    assert r.status_code == 200, r.text
    assert offload.hops == hops, "SQLite reads run inline: WAL readers never wait"
    assert trace.statements == ["SELECT", "SELECT"], "the key, then the order with its lines"


@contextmanager
def _served_on(url: str, tmp_path: Path, **settings: Any) -> Iterator[Any]:
    """(client, alice's headers, the app's offload) on a fresh PostgreSQL database with
    one product, SKU-1."""
    container = make_container(url, tmp_path, **settings)
    admin = container.create_principal()("root", "admin").api_key
    alice = container.create_principal()("alice", "customer").api_key
    app = create_app(container, deliver_events=False)
    try:
        with TestClient(app) as client:
            r = client.post(
                "/v1/products",
                json={"sku": "SKU-1", "name": "p", "price": 1, "on_hand": 9},
                headers=bearer(admin),
            )
            assert r.status_code == 201, r.text
            yield client, bearer(alice), app.state.offload
    finally:
        container.database().dispose()


def _hops(client: TestClient[Any], alice: dict[str, str], offload: Any) -> list[int]:
    """Thread hops of a placement, then of reading that order."""
    hops = offload.hops
    r = client.post("/v1/orders", json={"lines": [{"sku": "SKU-1", "quantity": 1}]}, headers=alice)
    assert r.status_code == 201, r.text
    placed, hops = offload.hops - hops, offload.hops
    r = client.get(f"/v1/orders/{r.json()['id']}", headers=alice)
    assert r.status_code == 200, r.text
    return [placed, offload.hops - hops]


@pytest.mark.postgres
def test_on_a_local_postgresql_reads_run_inline_and_a_write_request_hops_twice(
    postgres_url: str, tmp_path: Path
) -> None:
    with _served_on(postgres_url, tmp_path) as (client, alice, offload):
        # The key lookup before a write and the placement each in a thread; a GET's
        # key lookup and order read on the loop.
        assert _hops(client, alice, offload) == [2, 0]


@pytest.mark.postgres
def test_inline_reads_can_be_turned_off(postgres_url: str, tmp_path: Path) -> None:
    with _served_on(postgres_url, tmp_path, database_inline_reads="false") as served:
        assert _hops(*served) == [2, 2]


def test_no_guard_or_dependency_of_the_api_hops_to_a_thread(tmp_path: Path) -> None:
    """Litestar runs a plain-function guard, and a dependency marked sync_to_thread, in a
    worker thread: a hop per request for work that takes microseconds."""
    app = create_app(make_container("memory", tmp_path), deliver_events=False)
    checked = 0
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for guard in handler.resolve_guards():
                assert inspect.iscoroutinefunction(getattr(guard, "func", guard)), handler
                checked += 1
            for name, provide in handler.resolve_dependencies().items():
                assert not provide.sync_to_thread, (handler, name)
    assert checked >= 6


def test_no_handler_of_the_api_declares_a_header_parameter(tmp_path: Path) -> None:
    """One declared header makes Litestar parse every header of every request into a
    multidict (about 4 % of a GET's instructions); headers are read from the scope
    instead (entrypoints/http/header_params.py)."""
    from litestar.params import HeaderParameter, ParameterKwarg

    app = create_app(make_container("memory", tmp_path), deliver_events=False)
    handlers = [h for route in app.routes for h in getattr(route, "route_handlers", [])]
    for handler in handlers:
        for name, parameter in handler.parsed_fn_signature.parameters.items():
            kwarg = parameter.kwarg_definition
            declared = isinstance(kwarg, HeaderParameter) or (
                isinstance(kwarg, ParameterKwarg) and kwarg.header
            )
            assert not declared, (handler, name)
    assert len(handlers) > 20
