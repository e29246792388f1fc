"""The limits of docs/domain.md hold in the CLI as in the API (issue 11), on memory, SQLite
and PostgreSQL: prices at most 10^12 in `products add`, `set-price` and import; on_hand at
most 10^9 after `stock set`, `stock adjust` or an import; a one-line refusal, no traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.sql import migrate
from adapters.system import FixedClock
from core.domain.limits import MAX_PRICE, MAX_STOCK
from entrypoints.container import build_container
from entrypoints.settings import Settings
from tests.e2e.cli_harness import Cli, close, make_container


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cli(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Cli]:
    if request.param == "postgres":
        container = build_container(Settings(database_url=request.getfixturevalue("postgres_url")))
        migrate.upgrade(container.database(), "head")
        container.clock.override(clock)
    else:
        container = make_container(request.param, tmp_path, clock)
    cli = Cli(container)
    cli.ok("products", "add", "MUG-01", "Coffee mug", "1250", "--on-hand", "10")
    yield cli
    close(container)


def _price(cli: Cli, sku: str) -> int:
    products = {p["sku"]: p for p in cli.json("products", "list")}
    price: int = products[sku]["price"]
    return price


def test_a_price_past_the_cap_is_bad_usage_in_add_and_set_price(cli: Cli) -> None:
    too_much = str(MAX_PRICE + 1)
    assert f"at most {MAX_PRICE}" in cli.bad_usage("products", "add", "GOLD-1", "Gold", too_much)
    assert f"at most {MAX_PRICE}" in cli.bad_usage("products", "set-price", "MUG-01", too_much)
    assert f"at most {MAX_PRICE}" in cli.bad_usage("products", "add", "GOLD-1", "Gold", str(2**63))
    cli.ok("products", "add", "GOLD-1", "Gold", str(MAX_PRICE))
    cli.ok("products", "set-price", "MUG-01", str(MAX_PRICE))
    assert _price(cli, "MUG-01") == _price(cli, "GOLD-1") == MAX_PRICE


def test_an_import_rejects_a_price_or_count_past_the_limits(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(
        "sku,name,price,on_hand\n"
        f"BIG-1,Too dear,{MAX_PRICE + 1},1\n"
        f"BIG-2,Too many,1,{MAX_STOCK + 1}\n"
        f"BIG-3,Way too dear,{2**63 - 1},1\n"
        f"OK-1,Fine,{MAX_PRICE},{MAX_STOCK}\n"
    )
    result = cli("products", "import", str(path), "--json")
    assert "Traceback" not in result.output
    skus = {p["sku"] for p in cli.json("products", "list")}
    assert skus == {"MUG-01", "OK-1"}
    assert cli.json("stock", "show", "OK-1")["on_hand"] == MAX_STOCK


def test_three_adjustments_of_a_billion_refuse_the_one_past_the_limit(cli: Cli) -> None:
    cli.ok("stock", "set", "MUG-01", "0")
    cli.ok("stock", "adjust", "MUG-01", str(MAX_STOCK), "--reason", "delivery")
    for _ in range(2):
        line = cli.refused("stock", "adjust", "MUG-01", str(MAX_STOCK), "--reason", "delivery")
        assert str(MAX_STOCK) in line
    assert f"at most {MAX_STOCK}" in cli.bad_usage("stock", "set", "MUG-01", str(MAX_STOCK + 1))
    assert cli.json("stock", "show", "MUG-01")["on_hand"] == MAX_STOCK


@pytest.mark.parametrize("reason", ["a\x01b", "tab\there", "\x1b[2J"])
def test_a_reason_with_control_characters_is_refused_in_one_line(cli: Cli, reason: str) -> None:
    line = cli.refused("stock", "adjust", "MUG-01", "1", "--reason", reason)
    assert "control characters" in line
    assert cli.json("stock", "show", "MUG-01")["on_hand"] == 10
