"""`orderly products`: add, list (every page), set-price, deactivate/activate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.system import FixedClock
from core.use_cases.catalog import CreateProductCommand
from entrypoints.cli import output
from tests.e2e.cli_harness import STORAGES, Cli, close, make_container

PRODUCT_KEYS = {
    "sku", "name", "price", "currency", "active", "available", "created_at", "updated_at",
    "version",
}  # fmt: skip


@pytest.fixture(params=STORAGES)
def cli(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Cli]:
    container = make_container(request.param, tmp_path, clock)
    yield Cli(container)
    close(container)


def test_add_prints_the_product_for_people(cli: Cli) -> None:
    out = cli.ok("products", "add", "MUG-01", "Coffee mug", "1250", "--on-hand", "40")
    assert out == "Added MUG-01 'Coffee mug' at 12.50 EUR, 40 available, active.\n"
    assert cli.json("stock", "show", "MUG-01")["on_hand"] == 40


def test_add_json_is_the_product(cli: Cli) -> None:
    product = cli.json("products", "add", "TEE-1", "T-shirt [large]", "1999", "--inactive")
    assert set(product) == PRODUCT_KEYS
    assert product["sku"] == "TEE-1" and product["name"] == "T-shirt [large]"
    assert (product["price"], product["currency"]) == (1999, "EUR")
    assert product["active"] is False and product["available"] == 0
    assert product["version"] == 1


def test_adding_a_known_sku_is_refused_with_what_to_do(cli: Cli) -> None:
    cli.ok("products", "add", "MUG-01", "Coffee mug", "1250")
    message = cli.refused("products", "add", "MUG-01", "Other", "1")
    assert message.startswith("product MUG-01 already exists; ")
    assert "set-price" in message
    assert cli.json("products", "list")[0]["name"] == "Coffee mug"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["mug-01", "Mug", "100"], "invalid SKU 'mug-01'"),
        (["-MUG", "Mug", "100"], "No such option"),
        (["MUG-01", "Mug", "12.50"], "not in minor units"),
        (["MUG-01", "Mug", "ten"], "'ten' is not an integer"),
        (["MUG-01", "Mug", "9223372036854775808"], "too large"),
        (["MUG-01", "", "100"], "invalid product name"),
        (["MUG-01", "x" * 201, "100"], "invalid product name"),
        (["MUG-01", "Mug", "100", "--on-hand", "-1"], "must be >= 0"),
        (["MUG-01", "Mug"], "Missing argument 'PRICE'"),
    ],
)
def test_bad_arguments_are_usage_errors(cli: Cli, args: list[str], expected: str) -> None:
    assert expected in cli.bad_usage("products", "add", *args)
    assert cli.json("products", "list") == []


def test_list_walks_every_page_in_sku_order(cli: Cli) -> None:
    create = cli.container.create_product()
    for n in range(230):  # more than two pages of 100
        create(CreateProductCommand(f"P-{n:04d}", f"Product {n}", n, active=n % 3 != 0))
    listed = cli.json("products", "list")
    assert [p["sku"] for p in listed] == [f"P-{n:04d}" for n in range(230)]
    assert set(listed[0]) == PRODUCT_KEYS
    active = cli.json("products", "list", "--active")
    inactive = cli.json("products", "list", "--inactive")
    assert len(active) == 153 and all(p["active"] for p in active)
    assert len(inactive) == 77 and not any(p["active"] for p in inactive)
    table = cli.ok("products", "list", "--inactive")
    assert "P-0003" in table and "P-0001" not in table
    assert "77 products" in table


def test_list_table_shows_price_stock_and_state(cli: Cli) -> None:
    cli.ok("products", "add", "MUG-01", "Coffee mug", "1250", "--on-hand", "7")
    cli.ok("products", "add", "OLD-1", "[red]Retired[/red]", "5", "--inactive")
    rows = {line.split()[1]: line for line in cli.ok("products", "list").splitlines()[3:5]}
    assert "Coffee mug" in rows["MUG-01"] and "12.50 EUR" in rows["MUG-01"]
    assert " 7 " in rows["MUG-01"] and "yes" in rows["MUG-01"]
    assert "[red]Retired[/red]" in rows["OLD-1"] and "no" in rows["OLD-1"]  # not markup


def test_list_of_nothing_says_how_to_add(cli: Cli) -> None:
    assert "orderly products add" in cli.ok("products", "list")
    assert cli.ok("products", "list", "--json") == "[]\n"


def test_set_price_changes_the_price(cli: Cli) -> None:
    cli.ok("products", "add", "MUG-01", "Coffee mug", "1250")
    assert cli.ok("products", "set-price", "MUG-01", "1500") == "MUG-01 now costs 15.00 EUR.\n"
    [mug] = cli.json("products", "list")
    assert (mug["price"], mug["version"]) == (1500, 2)
    assert "not in minor units" in cli.bad_usage("products", "set-price", "MUG-01", "15.0")
    assert "must be >= 0" in cli.bad_usage("products", "set-price", "MUG-01", "-1")
    message = cli.refused("products", "set-price", "NOPE-1", "100")
    assert message == "product NOPE-1 not found; see `orderly products list`"


def test_deactivate_and_activate(cli: Cli) -> None:
    cli.ok("products", "add", "MUG-01", "Coffee mug", "1250")
    assert "can no longer be ordered" in cli.ok("products", "deactivate", "MUG-01")
    assert cli.json("products", "list", "--inactive")[0]["sku"] == "MUG-01"
    cli.ok("products", "deactivate", "MUG-01")  # again: harmless
    assert "can be ordered" in cli.ok("products", "activate", "MUG-01")
    assert cli.json("products", "list", "--active")[0]["sku"] == "MUG-01"
    assert "not found" in cli.refused("products", "deactivate", "NOPE-1")


def test_help_explains_units_and_examples(cli: Cli) -> None:
    assert "minor units" in cli.ok("products", "--help")
    add_help = cli.ok("products", "add", "--help")
    assert "orderly products add MUG-01" in add_help and "--on-hand" in add_help
    assert "sku,name,price,on_hand[,active]" in cli.ok("products", "import", "--help")


def test_long_listings_are_plain_aligned_columns(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # Rich needs about a millisecond a row; past RICH_ROWS the table is plain text.
    monkeypatch.setattr(output, "RICH_ROWS", 2)
    cli.ok("products", "add", "A1", "Short", "5", "--on-hand", "1200")
    cli.ok("products", "add", "B2-LONGER", "A much longer name", "123456")
    cli.ok("products", "add", "C3", "Ünïcode ✓", "99", "--inactive")
    assert cli.ok("products", "list").splitlines() == [
        "SKU        Name                       Price  Available  Active",
        "---------  ------------------  ------------  ---------  ------",
        "A1         Short                   0.05 EUR       1200  yes",
        "B2-LONGER  A much longer name  1,234.56 EUR          0  yes",
        "C3         Ünïcode ✓               0.99 EUR          0  no",
        "3 products",
    ]
