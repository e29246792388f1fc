"""Shared pieces of the HTTP end-to-end tests: an app over memory or SQLite, keys, helpers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from adapters.sql import migrate
from entrypoints.container import Container, build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings

STORAGES = ["memory", "sqlite"]


def make_container(storage: str, tmp_path: Path, **settings: Any) -> Container:
    """`storage` is "memory", "sqlite" or a PostgreSQL URL (see the `postgres_url` fixture)."""
    settings.setdefault("rate_limit_per_minute", 100_000)
    if storage == "memory":
        return build_container(Settings(database_url="memory://", **settings))
    url = storage if storage.startswith("postgresql") else f"sqlite:///{tmp_path / 'orderly.db'}"
    container = build_container(Settings(database_url=url, **settings))
    migrate.upgrade(container.database(), "head")
    return container


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Api:
    """A running app (lifespan started) with an admin and two customers."""

    client: TestClient[Any]
    container: Container
    admin: dict[str, str]
    alice: dict[str, str]
    bob: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)

    def product(
        self, sku: str, price: int = 1000, on_hand: int = 10, active: bool = True
    ) -> dict[str, Any]:
        r = self.client.post(
            "/v1/products",
            json={"sku": sku, "name": f"Product {sku}", "price": price, "on_hand": on_hand,
                  "active": active},
            headers=self.admin,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    def place(self, who: dict[str, str], *lines: tuple[str, int], **headers: str) -> Any:
        return self.client.post(
            "/v1/orders",
            json={"lines": [{"sku": sku, "quantity": q} for sku, q in lines]},
            headers={**who, **headers},
        )

    def order(self, who: dict[str, str], *lines: tuple[str, int]) -> dict[str, Any]:
        r = self.place(who, *lines)
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    def get_order(self, order_id: str, who: dict[str, str] | None = None) -> dict[str, Any]:
        r = self.client.get(f"/v1/orders/{order_id}", headers=who or self.admin)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def wait_status(self, order_id: str, status: str, timeout: float = 15.0) -> dict[str, Any]:
        """The saga runs after the response (synchronously on memory, in the relay thread
        on SQLite), so wait for the order to get where it is going."""
        deadline = time.monotonic() + timeout
        while True:
            order = self.get_order(order_id)
            if order["status"] == status or time.monotonic() > deadline:
                assert order["status"] == status, order
                return order
            time.sleep(0.02)

    def stock(self, sku: str) -> dict[str, Any]:
        r = self.client.get(f"/v1/stock/{sku}", headers=self.admin)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


@contextmanager
def running_api(storage: str, tmp_path: Path, **settings: Any) -> Iterator[Api]:
    container = make_container(storage, tmp_path, **settings)
    keys = {
        name: container.create_principal()(name, role)
        for name, role in (("admin", "admin"), ("alice", "customer"), ("bob", "customer"))
    }
    app = create_app(container)
    with TestClient(app) as client:
        yield Api(
            client,
            container,
            admin=bearer(keys["admin"].api_key),
            alice=bearer(keys["alice"].api_key),
            bob=bearer(keys["bob"].api_key),
            ids={name: created.id for name, created in keys.items()},
        )


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 body with our code; returns it for further checks."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"] == f"urn:orderly:problem:{code}"
    assert body["title"] and body["detail"]
    return body
