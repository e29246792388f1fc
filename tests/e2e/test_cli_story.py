"""A store run from the terminal: the operator sets everything up with `orderly`, a
customer orders through the HTTP API with the key the CLI printed, and the operator
sees the order paid, ships it and lists it, again from the CLI.

On SQLite the CLI and the API share nothing but the database file: every CLI run
builds its own container from ORDERLY_DATABASE_URL (as separate processes would)
and the API delivers events in its own relay thread. On memory they share one
container, the only way to share in-memory state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from litestar.testing import TestClient

from adapters.system import FixedClock
from entrypoints.cli.main import cli
from entrypoints.cli.support import CliState
from entrypoints.container import Container, build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.e2e.cli_harness import close, sqlite_url

Run = Callable[..., Result]

CATALOGUE = b"""sku,name,price,on_hand
MUG-01,Coffee mug,1250,0
TEE-1,T-shirt,1999,0
bad sku,Broken,1,1
"""


def _runner(storage: str, tmp_path: Path, clock: FixedClock) -> tuple[Run, Container]:
    runner = CliRunner()
    if storage == "memory":
        shared = build_container(Settings(database_url="memory://"))
        shared.clock.override(clock)
        return (lambda *args: runner.invoke(cli, list(args), obj=CliState(shared))), shared
    env = {"ORDERLY_DATABASE_URL": sqlite_url(tmp_path)}
    api_side = build_container(Settings(database_url=env["ORDERLY_DATABASE_URL"]))
    return (lambda *args: runner.invoke(cli, list(args), env=env)), api_side


def _ok(run: Run, *args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.stdout


def _json(run: Run, *args: str) -> Any:
    return json.loads(_ok(run, *args, "--json"))


@pytest.mark.parametrize("storage", ["memory", "sqlite"])
def test_operator_story_from_the_cli(storage: str, tmp_path: Path, clock: FixedClock) -> None:
    run, api_container = _runner(storage, tmp_path, clock)
    if storage == "sqlite":
        assert "Upgraded" in _ok(run, "db", "upgrade")

    # Set up the store.
    admin_key = _json(run, "users", "create", "ops", "--role", "admin")["api_key"]
    alice = _json(run, "users", "create", "alice", "--role", "customer")
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_bytes(CATALOGUE)
    imported = run("products", "import", str(catalogue))
    assert imported.exit_code == 1  # one bad row, reported; the good rows landed
    assert "2 rows accepted, 1 rejected" in imported.stdout and "line 4:" in imported.stdout
    _ok(run, "stock", "set", "MUG-01", "20")
    _ok(run, "stock", "adjust", "TEE-1", "5", "--reason", "first delivery")

    # A customer orders through the API with the key the CLI printed.
    with TestClient(create_app(api_container)) as client:
        seen = client.get("/v1/products/MUG-01", headers={"Authorization": f"Bearer {admin_key}"})
        assert seen.status_code == 200 and seen.json()["available"] == 20
        placed = client.post(
            "/v1/orders",
            json={"lines": [{"sku": "MUG-01", "quantity": 2}, {"sku": "TEE-1", "quantity": 1}]},
            headers={"Authorization": f"Bearer {alice['api_key']}"},
        )
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]

        # Back at the terminal: the payment saga has run (in the API's relay thread
        # on SQLite, so give it a moment).
        deadline = time.monotonic() + 30
        order = _json(run, "orders", "show", order_id)
        while order["status"] == "pending_payment" and time.monotonic() < deadline:
            time.sleep(0.05)
            order = _json(run, "orders", "show", order_id)
        assert (order["status"], order["customer_id"], order["total"]) == (
            "paid",
            alice["id"],
            2 * 1250 + 1999,
        )
        assert "OrderPaid" in _ok(run, "orders", "show", order_id)
        assert _json(run, "stock", "show", "MUG-01")["reserved"] == 2

        assert _ok(run, "orders", "ship", order_id) == f"Shipped order {order_id}.\n"
        listed = _json(run, "orders", "list", "--customer", "alice")
        assert [(o["id"], o["status"]) for o in listed] == [(order_id, "shipped")]
        table = _ok(run, "orders", "list", "--status", "shipped")
        assert order_id in table and "alice" in table and "44.99 EUR" in table
        assert _json(run, "stock", "show", "MUG-01") == {
            "sku": "MUG-01",
            "on_hand": 18,
            "reserved": 0,
            "available": 18,
        }

        # The customer sees the same through the API; the revoked key stops working.
        mine = client.get(
            f"/v1/orders/{order_id}", headers={"Authorization": f"Bearer {alice['api_key']}"}
        )
        assert mine.json()["status"] == "shipped"
        _ok(run, "users", "revoke", "alice")
        refused = client.get("/v1/orders", headers={"Authorization": f"Bearer {alice['api_key']}"})
        assert refused.status_code == 401
    close(api_container)
