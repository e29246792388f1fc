"""`orderly serve` on SQLite delivers in a process of its own
(entrypoints/delivery_process.py): the saga completes there, its metrics reach
/metrics, it is restarted if it dies, and it never outlives `serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx

from tests.e2e.serve_process import ORDERLY, ServedProcess, orderly_serve, pids_that_logged
from tests.integration.messaging_support import wait_until

CHILD = "entrypoints.delivery_process"


def _children(pid: int) -> list[int]:
    """Every thread's children (a child started by a thread is listed under that thread)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return found


def _delivery_pids(serve_pid: int) -> list[int]:
    found = []
    for child in _children(serve_pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if CHILD.encode() in command:
            found.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _shop(tmp_path: Path) -> tuple[dict[str, str], str]:
    """The environment of a SQLite shop with one product, and a customer's key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERLY_", "PROMETHEUS_"))}
    env["ORDERLY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'orderly.db'}"

    def orderly(*args: str) -> str:
        return subprocess.run(
            [ORDERLY, *args], env=env, check=True, capture_output=True, text=True
        ).stdout

    orderly("db", "upgrade")
    orderly("products", "add", "MUG-1", "Mug", "1250", "--on-hand", "100")
    key: str = json.loads(orderly("users", "create", "ann", "--role", "customer", "--json"))[
        "api_key"
    ]
    return env, key


def _place_and_see_paid(served: ServedProcess, key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    placed = httpx.post(
        f"{served.url}/v1/orders",
        json={"lines": [{"sku": "MUG-1", "quantity": 1}]},
        headers=auth,
        timeout=10,
    )
    assert placed.status_code == 201, placed.text
    order = f"{served.url}/v1/orders/{placed.json()['id']}"
    wait_until(
        lambda: httpx.get(order, headers=auth, timeout=10).json()["status"] == "paid",
        "the order to be paid",
    )


def _sample(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name)]


def test_the_saga_runs_in_the_delivery_process_and_its_metrics_reach_metrics(
    tmp_path: Path,
) -> None:
    env, key = _shop(tmp_path)
    log = tmp_path / "serve.log"
    with orderly_serve(log, env) as served:
        pids = _delivery_pids(served.process.pid)
        assert len(pids) == 1, _children(served.process.pid)
        _place_and_see_paid(served, key)
        # The customer was notified by the delivery process, not by the serving one.
        wait_until(lambda: pids_that_logged(log, event="customer_notified") != set(), "a notice")
        assert pids_that_logged(log, event="customer_notified") == set(pids)
        text = httpx.get(f"{served.url}/metrics", timeout=10).text
        # Counted in the delivery process, exported by the serving one.
        assert _sample(text, 'orderly_messages_handled_total{handler="payments.charge"}') == [
            'orderly_messages_handled_total{handler="payments.charge"} 1.0'
        ]
        assert _sample(text, "orderly_orders_placed_total") == ["orderly_orders_placed_total 1.0"]
        # Read at scrape time: one series each, not one per process.
        for gauge in ("orderly_webhook_pending_deliveries", "orderly_outbox_backlog"):
            assert _sample(text, gauge + " ") == [f"{gauge} 0.0"], text
        assert _sample(text, "orderly_payments_circuit_open") == [
            "orderly_payments_circuit_open 0.0"
        ]
        served.stop()
        wait_until(lambda: not _alive(pids[0]), "the delivery process to end with serve")
    assert "delivery process started" in log.read_text()


def test_a_delivery_process_that_dies_is_replaced_and_none_outlives_a_killed_serve(
    tmp_path: Path,
) -> None:
    env, key = _shop(tmp_path)
    with orderly_serve(tmp_path / "serve.log", env) as served:
        [first] = _delivery_pids(served.process.pid)
        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: [p for p in _delivery_pids(served.process.pid) if p != first] != [],
            "a new delivery process",
        )
        [second] = [p for p in _delivery_pids(served.process.pid) if p != first]
        _place_and_see_paid(served, key)
        served.process.kill()  # no chance to stop its child
        served.process.wait(timeout=10)
        wait_until(lambda: not _alive(second), "the delivery process to end after serve's kill")
    assert "exited with status -9; starting another in 1s" in (tmp_path / "serve.log").read_text()
