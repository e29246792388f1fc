"""A client no one here wrote: openapi-python-client generates one from the document a
real `orderly serve` serves, and a short story runs through it.

It catches what a schema-only check would not: a document the generator cannot read,
a response the generated models fail to parse, an enum written so that the client gets
several classes for it (a nullable enum as a type array with null in the enum gives
`OrderOutCancelReasonType1`, `...Type2Type1`, ...; a named component gives one).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.e2e.http_support import make_container
from tests.e2e.serve_process import orderly_serve

pytestmark = pytest.mark.slow  # generation spawns the generator: seconds, not milliseconds

GENERATOR = str(Path(sys.executable).parent / "openapi-python-client")
PACKAGE = "orderly_generated_client"


def _generate(document: str, into: Path) -> None:
    (into / "openapi.json").write_text(document)
    (into / "config.yaml").write_text("post_hooks: []\n")  # no formatter run: not needed here
    done = subprocess.run(
        [GENERATOR, "generate", "--path", "openapi.json", "--meta", "none",
         "--output-path", PACKAGE, "--config", "config.yaml"],
        cwd=into, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # The generator exits 0 even when it skipped an operation it could not read.
    assert done.returncode == 0 and "Warning" not in done.stdout + done.stderr, (
        done.stdout + done.stderr
    )


def _import(directory: Path, name: str) -> ModuleType:
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(directory))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`orderly serve` on a fresh SQLite file, and an API key per role."""
    container = make_container("sqlite", tmp_path)
    keys = {
        role: container.create_principal()(f"generated-{role}", role).api_key
        for role in ("admin", "customer")
    }
    container.database().dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERLY_")}
    env["ORDERLY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'orderly.db'}"
    with orderly_serve(tmp_path / "serve.log", env) as process:
        yield process.url, keys
        process.stop()


def test_a_generated_client_runs_the_order_story(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, keys = served
    _generate(httpx.get(f"{url}/schema/openapi.json", timeout=10).text, tmp_path)
    client_module = _import(tmp_path, PACKAGE)
    models = _import(tmp_path, f"{PACKAGE}.models")
    api: dict[str, Any] = {
        name: _import(tmp_path, f"{PACKAGE}.api.{name}")
        for name in ("products.create_product", "orders.place_order", "orders.get_order",
                     "orders.list_order_events", "orders.list_orders", "orders.ship_order")
    }  # fmt: skip
    try:
        # One class per enum: the named components, and none of the per-use copies.
        for enum in ("OrderStatus", "CancelReason", "DeliveryStatus", "CircuitState"):
            assert hasattr(models, enum), enum
        assert [name for name in dir(models) if "Type1" in name or "Type2" in name] == []

        admin = client_module.AuthenticatedClient(base_url=url, token=keys["admin"])
        customer = client_module.AuthenticatedClient(base_url=url, token=keys["customer"])
        created = api["products.create_product"].sync_detailed(
            client=admin, body=models.CreateProductIn(sku="GEN-01", name="Mug", price=1250,
                                                     on_hand=3)
        )  # fmt: skip
        assert created.status_code == 201, created.content
        assert isinstance(created.parsed, models.ProductOut) and created.parsed.available == 3

        line = models.OrderLineIn(sku="GEN-01", quantity=2)
        placed = api["orders.place_order"].sync_detailed(
            client=customer, body=models.PlaceOrderIn(lines=[line])
        )
        assert placed.status_code == 201, placed.content
        order = placed.parsed
        assert isinstance(order, models.OrderOut) and order.total == 2500
        assert isinstance(order.status, models.OrderStatus)
        assert order.cancel_reason is None

        # The 409 is a Problem the client parses, with its code and the shortage.
        refused = api["orders.place_order"].sync_detailed(
            client=customer, body=models.PlaceOrderIn(lines=[line])
        )
        assert refused.status_code == 409
        problem = refused.parsed
        assert isinstance(problem, models.Problem) and problem.code == "insufficient_stock"
        assert [(s.sku, s.requested, s.available) for s in problem.shortages] == [("GEN-01", 2, 1)]

        # The saga pays the order after the response; then an admin ships it.
        deadline = time.monotonic() + 30
        while True:
            got = api["orders.get_order"].sync(order_id=order.id, client=customer)
            assert isinstance(got, models.OrderOut), got
            if got.status is models.OrderStatus.PAID or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert got.status is models.OrderStatus.PAID
        shipped = api["orders.ship_order"].sync(order_id=order.id, client=admin)
        assert isinstance(shipped, models.OrderOut)
        assert shipped.status is models.OrderStatus.SHIPPED

        events = api["orders.list_order_events"].sync(order_id=order.id, client=customer)
        assert isinstance(events, models.EventList)
        assert [e.type_ for e in events.items] == ["OrderPlaced", "OrderPaid", "OrderShipped"]

        # The enum also filters: the query parameter takes the same class.
        page = api["orders.list_orders"].sync(client=admin, status=models.OrderStatus.SHIPPED)
        assert isinstance(page, models.OrderPage)
        assert [o.id for o in page.items] == [order.id]
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]
