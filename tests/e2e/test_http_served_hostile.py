"""Black box: hostile input against a real `orderly serve` on SQLite and PostgreSQL.

The inputs of issue 11's hunt (NUL in paths, queries, cursors and bodies; forged cursors;
lone surrogates; non-ASCII digits in If-Match; over-long request ids; non-JSON content
types; bodies for operations that take none; numbers past the limits), sent over a
socket with raw header bytes as an attacker would. Every answer is a non-5xx, and the
service still works afterwards.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from entrypoints.container import build_container
from entrypoints.settings import Settings
from tests.e2e.serve_process import ORDERLY, orderly_serve

pytestmark = pytest.mark.slow


@dataclass
class Served:
    url: str
    admin: bytes
    alice: bytes


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    url = (
        request.getfixturevalue("postgres_url")
        if request.param == "postgres"
        else f"sqlite:///{tmp_path / 'orderly.db'}"
    )
    env = {**os.environ, "ORDERLY_DATABASE_URL": url, "ORDERLY_RATE_LIMIT_PER_MINUTE": "100000"}
    upgrade = subprocess.run(
        [ORDERLY, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    assert upgrade.returncode == 0, upgrade.stderr
    container = build_container(Settings(database_url=url))
    admin = container.create_principal()("admin", "admin").api_key
    alice = container.create_principal()("alice", "customer").api_key
    container.database().dispose()
    with orderly_serve(tmp_path / "serve.log", env) as process:
        yield Served(process.url, f"Bearer {admin}".encode(), f"Bearer {alice}".encode())
        process.stop()


def _cursor(data: object) -> str:
    raw = json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _hostile(order_id: str) -> list[tuple[str, str, bytes | None, dict[bytes, bytes]]]:
    """(method, path, body, extra headers): who answers is decided by the caller."""
    json_type = {b"Content-Type": b"application/json"}
    far = [
        _cursor({"c": "0001-01-01T00:00:00+05:00", "i": "x"}),
        _cursor({"c": "9999-12-31T23:59:59-05:00", "i": "x"}),
        _cursor({"c": "2026-01-01T00:00:00+00:00", "i": "\ud800"}),
        _cursor({"c": "2026-01-01T00:00:00+00:00", "i": "a\x00"}),
        _cursor({"s": "\ud800"}),
        _cursor({"s": "A\x00B"}),
        "%00",
        "%ED%A0%80",
    ]
    cases: list[tuple[str, str, bytes | None, dict[bytes, bytes]]] = []
    for path in ["/v1/orders/%00", "/v1/orders/a%00b", "/v1/orders/%ED%A0%80", "/v1/orders/%FF"]:
        cases += [
            ("GET", path, None, {}),
            ("GET", path + "/events", None, {}),
            ("POST", path + "/cancel", None, {}),
            ("POST", path + "/ship", None, {}),
        ]
    cases += [("GET", f"/v1/orders?cursor={c}", None, {}) for c in far]
    cases += [("GET", f"/v1/products?cursor={c}", None, {}) for c in far]
    cases += [
        ("GET", "/v1/orders?customer_id=%00", None, {}),
        ("GET", "/v1/orders?customer_id=%ED%A0%80", None, {}),
        ("GET", "/v1/products/%00", None, {}),
        ("GET", "/v1/stock/A%00", None, {}),
        ("POST", "/v1/products", b'{"sku":"NUL-1","name":"a\\u0000","price":1}', json_type),
        ("POST", "/v1/products", b'{"sku":"NUL-1","name":"a\\ud800","price":1}', json_type),
        ("POST", "/v1/products", b'{"sku":"NUL-1","name":"a","price":1000000000001}', json_type),
        ("POST", "/v1/products", b'{"sku":"NUL-1","name":"a","price":1e400}', json_type),
        ("PATCH", "/v1/products/MUG-01", b'{"name":"x\\u0000"}', json_type),
        ("PATCH", "/v1/products/MUG-01", b'{"price":9223372036854775808}', json_type),
        ("PUT", "/v1/stock/MUG-01", b'{"on_hand":2147483648}', json_type),
        ("POST", "/v1/stock/MUG-01/adjustments", b'{"delta":5,"reason":"r\\u0000"}', json_type),
        *[
            (
                "POST",
                "/v1/stock/MUG-01/adjustments",
                b'{"delta":1000000000,"reason":"r"}',
                json_type,
            )
            for _ in range(3)
        ],
        ("POST", f"/v1/orders/{order_id}/cancel", None, {b"If-Match": b'"\xb2"'}),
        ("POST", f"/v1/orders/{order_id}/cancel", None, {b"If-Match": '"١"'.encode()}),  # noqa: RUF001
        ("POST", f"/v1/orders/{order_id}/ship", b'{"carrier":"dhl"}', json_type),
        ("POST", f"/v1/orders/{order_id}/cancel", b"[1]", json_type),
        ("POST", f"/v1/orders/{order_id}/cancel", b"{}", {b"Content-Type": b"text/plain"}),
    ]
    order = b'{"lines":[{"sku":"MUG-01","quantity":1}]}'
    for content_type in [
        b"text/plain",
        b"application/x-www-form-urlencoded",
        b"application/xml",
        b"multipart/form-data; boundary=x",
    ]:
        cases.append(("POST", "/v1/orders", order, {b"Content-Type": content_type}))
    for request_id in [b"r" * 65, b"r" * 128, b"a:b", b"\xff\xfe", b"x\ty"]:
        cases.append(("POST", "/v1/orders", order, {**json_type, b"X-Request-ID": request_id}))
    return cases


def test_hostile_input_never_gets_a_5xx(served: Served) -> None:
    admin = {b"Authorization": served.admin}
    alice = {b"Authorization": served.alice}
    with httpx.Client(base_url=served.url, timeout=30) as client:
        r = client.post(
            "/v1/products",
            json={"sku": "MUG-01", "name": "Mug", "price": 500, "on_hand": 100},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        r = client.post(
            "/v1/orders", json={"lines": [{"sku": "MUG-01", "quantity": 1}]}, headers=alice
        )
        assert r.status_code == 201, r.text
        order_id = r.json()["id"]
        answers = []
        for method, path, body, extra in _hostile(order_id):
            who = alice if path == "/v1/orders" and method == "POST" else admin
            r = client.request(method, path, content=body, headers={**who, **extra})
            answers.append((method, path, extra, r.status_code))
        server_errors = [a for a in answers if a[3] >= 500]
        assert server_errors == [], server_errors
        # Each placement sent with a bad request id was still a normal 201.
        assert [a[3] for a in answers if a[2].get(b"X-Request-ID")] == [201] * 5
        # The refused requests stored nothing: one adjustment of a billion at most, the
        # order still open, the product's name unchanged.
        stock = client.get("/v1/stock/MUG-01", headers=admin).json()
        assert stock["on_hand"] <= 10**9
        assert client.get(f"/v1/orders/{order_id}", headers=admin).json()["status"] != "cancelled"
        assert client.get("/v1/products/MUG-01", headers=admin).json()["name"] == "Mug"
        assert client.get("/health/ready").status_code == 200
