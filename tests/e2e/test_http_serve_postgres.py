"""A real `orderly serve` (two uvicorn workers) on PostgreSQL, driven over HTTP.

The schema comes from `orderly db upgrade`; principals from the CreatePrincipal
use case against the same database. It proves across processes what the
in-process tests prove on one: idempotent retries arriving at once give one
order, stock is never oversold, ETags round-trip, pages stay stable while rows
are inserted, the saga runs in the served process, logs are JSON without keys,
and SIGTERM stops it cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from entrypoints.container import build_container
from entrypoints.settings import Settings
from tests.e2e.http_support import bearer
from tests.e2e.serve_process import ORDERLY, orderly_serve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@dataclass
class Served:
    url: str
    admin: dict[str, str]
    alice: dict[str, str]
    bob: dict[str, str]
    keys: list[str]
    log: Path


@pytest.fixture
def served(postgres_url: str, tmp_path: Path) -> Iterator[Served]:
    env = {
        **os.environ,
        "ORDERLY_DATABASE_URL": postgres_url,
        "ORDERLY_RATE_LIMIT_PER_MINUTE": "100000",
        "ORDERLY_LOG_LEVEL": "INFO",
    }
    upgrade = subprocess.run(
        [ORDERLY, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    assert upgrade.returncode == 0, upgrade.stderr
    container = build_container(Settings(database_url=postgres_url))
    created = {
        name: container.create_principal()(name, role)
        for name, role in (("admin", "admin"), ("alice", "customer"), ("bob", "customer"))
    }
    container.database().dispose()
    log = tmp_path / "serve.log"
    with orderly_serve(log, env, "--workers", "2") as server:
        yield Served(
            server.url,
            bearer(created["admin"].api_key),
            bearer(created["alice"].api_key),
            bearer(created["bob"].api_key),
            [c.api_key for c in created.values()],
            log,
        )
        assert server.stop() in (0, -signal.SIGTERM), log.read_text()[-3000:]
        assert log.read_text().count("Application shutdown complete") == 2, "both workers"


def _wait_status(client: httpx.Client, served: Served, order_id: str, status: str) -> Any:
    deadline = time.monotonic() + 30
    while True:
        order = client.get(f"/v1/orders/{order_id}", headers=served.admin).json()
        if order["status"] == status or time.monotonic() > deadline:
            assert order["status"] == status, order
            return order
        time.sleep(0.1)


def test_served_api_on_postgresql(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        # Products, and the problem+json shape over a real socket.
        for sku, on_hand in (("MUG-01", 100), ("RARE-1", 10)):
            r = client.post(
                "/v1/products",
                json={"sku": sku, "name": sku, "price": 1250, "on_hand": on_hand},
                headers=served.admin,
            )
            assert r.status_code == 201 and r.headers["location"] == f"/v1/products/{sku}"
        dup = client.post(
            "/v1/products", json={"sku": "MUG-01", "name": "x", "price": 1}, headers=served.admin
        )
        assert dup.status_code == 409
        assert dup.headers["content-type"].startswith("application/problem+json")
        assert dup.json()["code"] == "already_exists"
        assert client.get("/v1/products").status_code == 401
        assert client.get("/v1/stock/MUG-01", headers=served.alice).status_code == 403

        # Twenty concurrent retries of one placement, spread over both workers: one order.
        barrier = threading.Barrier(20)
        body = {"lines": [{"sku": "MUG-01", "quantity": 2}]}

        def retry(_: int) -> httpx.Response:
            with httpx.Client(base_url=served.url, timeout=30) as own:
                barrier.wait()
                return own.post(
                    "/v1/orders",
                    json=body,
                    headers={**served.alice, "Idempotency-Key": "pg-burst"},
                )

        with ThreadPoolExecutor(max_workers=20) as pool:
            responses = list(pool.map(retry, range(20)))
        assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
        assert len({r.content for r in responses}) == 1
        assert sum("idempotent-replayed" not in r.headers for r in responses) == 1
        order_id = responses[0].json()["id"]
        assert client.get("/v1/stock/MUG-01", headers=served.admin).json()["reserved"] == 2
        reused = client.post(
            "/v1/orders",
            json={"lines": [{"sku": "MUG-01", "quantity": 3}]},
            headers={**served.alice, "Idempotency-Key": "pg-burst"},
        )
        assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"

        # Thirty customers' orders race for ten units: exactly ten win, nothing oversold.
        def grab(_: int) -> int:
            with httpx.Client(base_url=served.url, timeout=30) as own:
                return own.post(
                    "/v1/orders",
                    json={"lines": [{"sku": "RARE-1", "quantity": 1}]},
                    headers=served.bob,
                ).status_code

        with ThreadPoolExecutor(max_workers=15) as pool:
            codes = list(pool.map(grab, range(30)))
        assert codes.count(201) == 10 and codes.count(409) == 20, codes
        rare = client.get("/v1/stock/RARE-1", headers=served.admin).json()
        assert rare == {"sku": "RARE-1", "on_hand": 10, "reserved": 10, "available": 0}

        # The saga runs inside the served process; ETags round-trip.
        paid = _wait_status(client, served, order_id, "paid")
        r = client.get(f"/v1/orders/{order_id}", headers=served.alice)
        assert r.headers["etag"] == f'"{paid["version"]}"'
        not_modified = client.get(
            f"/v1/orders/{order_id}", headers={**served.alice, "If-None-Match": r.headers["etag"]}
        )
        assert not_modified.status_code == 304
        assert client.get(f"/v1/orders/{order_id}", headers=served.bob).status_code == 404
        stale = client.post(
            f"/v1/orders/{order_id}/cancel", headers={**served.alice, "If-Match": '"1"'}
        )
        assert stale.status_code == 412 and stale.json()["code"] == "version_mismatch"
        cancelled = client.post(
            f"/v1/orders/{order_id}/cancel",
            headers={**served.alice, "If-Match": r.headers["etag"], "X-Request-ID": "pg-cancel"},
        )
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert cancelled.headers["x-request-id"] == "pg-cancel"
        events = client.get(f"/v1/orders/{order_id}/events", headers=served.alice).json()["items"]
        assert [e["type"] for e in events][:3] == ["OrderPlaced", "OrderPaid", "OrderCancelled"]
        assert events[2]["correlation_id"] == "pg-cancel"

        # Pages of bob's orders stay stable while he places more.
        seen: list[str] = []
        cursor = None
        while True:
            query = "limit=3" + (f"&cursor={cursor}" if cursor else "")
            page = client.get(f"/v1/orders?{query}", headers=served.bob).json()
            seen.extend(o["id"] for o in page["items"])
            client.post(
                "/v1/orders",
                json={"lines": [{"sku": "MUG-01", "quantity": 1}]},
                headers=served.bob,
            )
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 10

        metrics = client.get("/metrics").text
        assert "orderly_http_requests_total" in metrics and "orderly_outbox_backlog" in metrics
        assert client.get("/health/ready").json()["checks"] == {"database": "ok"}

    lines = [json.loads(line) for line in served.log.read_text().splitlines() if line.strip()]
    assert any(x.get("event") == "request" and x.get("request_id") == "pg-cancel" for x in lines)
    text = served.log.read_text()
    assert not any(key in text for key in served.keys), "API keys never reach the logs"
