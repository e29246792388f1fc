"""`orderly webhooks`: add (secret shown once), list, deliveries, on every CLI storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.system import FixedClock
from tests.e2e.cli_harness import STORAGES, Cli, close, make_container

URL = "https://93.184.215.14/hooks"  # a public address literal: no DNS, not private


@pytest.fixture(params=STORAGES)
def cli(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Cli]:
    container = make_container(request.param, tmp_path, clock)
    yield Cli(container)
    close(container)


def test_add_prints_the_secret_once_and_list_shows_the_webhook(cli: Cli) -> None:
    assert "No webhooks yet" in cli.ok("webhooks", "list")
    out = cli.ok("webhooks", "add", URL, "--events", "OrderPaid, ProductCreated")
    summary, warning, secret = out.splitlines()
    assert summary.startswith("Created webhook ") and summary.endswith(f" for {URL}.")
    assert warning == "Signing secret (shown once; store it now, it cannot be shown again):"
    assert len(secret) >= 32
    webhook_id = summary.split()[2]

    listed = cli.ok("webhooks", "list")
    assert webhook_id in listed and "OrderPaid,ProductCreated" in listed and "active" in listed
    assert secret not in listed
    [row] = cli.json("webhooks", "list")
    assert row["id"] == webhook_id and row["events"] == ["OrderPaid", "ProductCreated"]
    assert "secret" not in row

    added = cli.json("webhooks", "add", URL, "--events", "*")
    assert set(added) >= {"id", "url", "events", "secret"}
    assert [r["id"] for r in cli.json("webhooks", "list")] == [webhook_id, added["id"]]


def test_deliveries_lists_the_fanned_out_events(cli: Cli) -> None:
    webhook_id = cli.json("webhooks", "add", URL, "--events", "ProductCreated")["id"]
    assert cli.ok("webhooks", "deliveries", webhook_id).strip() == "No deliveries."
    assert cli.json("webhooks", "deliveries", webhook_id) == []

    cli.ok("products", "add", "HOOK-1", "Hooked", "100")
    cli.deliver()
    [delivery] = cli.json("webhooks", "deliveries", webhook_id)
    assert (delivery["event_type"], delivery["subject"], delivery["status"]) == (
        "ProductCreated",
        "HOOK-1",
        "pending",
    )
    table = cli.ok("webhooks", "deliveries", webhook_id)
    assert delivery["id"] in table and "ProductCreated" in table and "pending" in table
