"""`orderly stock`: show, set, adjust; on_hand never below what open orders reserve."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.system import FixedClock
from tests.e2e.cli_harness import STORAGES, Cli, close, customer, make_container


@pytest.fixture(params=STORAGES)
def cli(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Cli]:
    container = make_container(request.param, tmp_path, clock)
    cli = Cli(container)
    cli.ok("products", "add", "MUG-01", "Coffee mug", "1250", "--on-hand", "10")
    yield cli
    close(container)


def test_show_for_people_and_scripts(cli: Cli) -> None:
    assert cli.ok("stock", "show", "MUG-01") == ("MUG-01: 10 on hand, 0 reserved, 10 available\n")
    assert cli.json("stock", "show", "MUG-01") == {
        "sku": "MUG-01",
        "on_hand": 10,
        "reserved": 0,
        "available": 10,
    }
    assert cli.refused("stock", "show", "NOPE-1") == (
        "no stock item for NOPE-1; see `orderly products list`"
    )
    assert "invalid SKU" in cli.bad_usage("stock", "show", "nope")


def test_set_replaces_on_hand(cli: Cli) -> None:
    assert cli.ok("stock", "set", "MUG-01", "3") == "MUG-01: 3 on hand, 0 reserved, 3 available\n"
    assert cli.json("stock", "show", "MUG-01")["on_hand"] == 3
    assert "must be >= 0" in cli.bad_usage("stock", "set", "MUG-01", "-1")
    assert "'x' is not an integer" in cli.bad_usage("stock", "set", "MUG-01", "x")
    assert "no stock item for NOPE-1" in cli.refused("stock", "set", "NOPE-1", "1")


def test_adjust_takes_positive_and_negative_deltas(cli: Cli) -> None:
    out = cli.ok("stock", "adjust", "MUG-01", "5", "--reason", "delivery")
    assert out == "MUG-01: 15 on hand, 0 reserved, 15 available\n"
    out = cli.ok("stock", "adjust", "MUG-01", "-7", "--reason", "broken in the warehouse")
    assert out == "MUG-01: 8 on hand, 0 reserved, 8 available\n"
    # The option may come first too.
    cli.ok("stock", "adjust", "--reason", "recount", "MUG-01", "-1")
    assert cli.json("stock", "show", "MUG-01")["on_hand"] == 7


def test_adjust_refusals_and_usage_errors(cli: Cli) -> None:
    message = cli.refused("stock", "adjust", "MUG-01", "-11", "--reason", "loss")
    assert "below zero" in message and "orderly stock show MUG-01" in message
    assert "reason must be 1-200 characters" in cli.refused(
        "stock", "adjust", "MUG-01", "1", "--reason", "  "
    )
    assert "Missing option '--reason'" in cli.bad_usage("stock", "adjust", "MUG-01", "1")
    assert "must not be 0" in cli.bad_usage("stock", "adjust", "MUG-01", "0", "--reason", "x")
    assert "not an integer" in cli.bad_usage("stock", "adjust", "MUG-01", "1.5", "--reason", "x")
    assert cli.json("stock", "show", "MUG-01")["on_hand"] == 10


def test_on_hand_never_goes_below_reserved(cli: Cli) -> None:
    alice = customer(cli, "alice")
    cli.place_order(alice, ("MUG-01", 4))
    assert cli.json("stock", "show", "MUG-01") == {
        "sku": "MUG-01",
        "on_hand": 10,
        "reserved": 4,
        "available": 6,
    }
    message = cli.refused("stock", "set", "MUG-01", "3")
    assert "4 are reserved" in message and "orderly orders list" in message
    message = cli.refused("stock", "adjust", "MUG-01", "-7", "--reason", "loss")
    assert "below the 4 reserved" in message
    assert cli.json("stock", "show", "MUG-01")["on_hand"] == 10
    cli.ok("stock", "set", "MUG-01", "4")
    assert cli.json("stock", "show", "MUG-01")["available"] == 0
