"""Money, product validation, create/update, and active-only ordering (docs/domain.md)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from core.domain.catalog import validate_name, validate_price, validate_sku
from core.domain.errors import (
    AlreadyExists,
    NotFound,
    UnorderableProduct,
    ValidationError,
)
from core.domain.money import Money
from core.use_cases.catalog import ImportReport, ProductRow
from tests.unit.conftest import MakeShop
from tests.unit.shop import Shop

# Money ----------------------------------------------------------------------------------


def test_money_is_integer_minor_units_with_a_currency() -> None:
    price = Money(1999, "EUR")
    assert price + Money(1, "EUR") == Money(2000, "EUR")
    assert price.times(3) == Money(5997, "EUR")
    assert Money.zero("USD") == Money(0, "USD")


@pytest.mark.parametrize("amount", [1.5, 10.0, True, "100", None])
def test_money_refuses_anything_but_integers(amount: Any) -> None:
    with pytest.raises(ValidationError):
        Money(amount, "EUR")


@pytest.mark.parametrize("code", ["eur", "EU", "EURO", "", "E1R", "EUR\n", " EUR"])
def test_money_needs_an_iso_4217_code(code: str) -> None:
    with pytest.raises(ValidationError):
        Money(1, code)


def test_money_never_mixes_currencies() -> None:
    with pytest.raises(ValidationError, match="cannot mix EUR and USD"):
        Money(1, "EUR") + Money(1, "USD")


def test_one_store_currency_prices_products_and_orders(make_shop: MakeShop) -> None:
    shop = make_shop(currency="USD")
    shop.product("AB-1", price=250)
    assert shop.c.product_queries().get("AB-1").currency == "USD"
    order = shop.order(shop.place({"AB-1": 2}))
    assert (order.currency, order.total) == ("USD", 500)


# SKU, name, price -----------------------------------------------------------------------


@pytest.mark.parametrize("sku", ["AB", "A1", "9-LIVES", "X" * 32, "0-0", "A-"])
def test_valid_skus(sku: str) -> None:
    assert validate_sku(sku) == sku


@pytest.mark.parametrize(
    "sku",
    ["", "A", "-AB", "ab", "Ab", "A_B", "A B", "X" * 33, "AB\n", "\nAB", "ÄB", "AB.", None, 12],
)
def test_invalid_skus_are_refused(sku: Any) -> None:
    with pytest.raises(ValidationError) as info:
        validate_sku(sku)
    assert info.value.errors[0].field == "sku"


@pytest.mark.parametrize("name", ["x", "Blue mug", "y" * 200, " padded "])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", " ", "\t\n", "y" * 201, None, 5, "mug \ud800"])
def test_invalid_names_are_refused(name: Any) -> None:
    with pytest.raises(ValidationError):
        validate_name(name)


@pytest.mark.parametrize("price", [0, 1, 10**12])
def test_valid_prices(price: int) -> None:
    assert validate_price(price) == price


@pytest.mark.parametrize("price", [-1, 1.5, True, "100", None])
def test_invalid_prices_are_refused(price: Any) -> None:
    with pytest.raises(ValidationError):
        validate_price(price)


# Create --------------------------------------------------------------------------------


def test_create_product_with_initial_stock(shop: Shop) -> None:
    shop.product("MUG-1", price=1250, on_hand=7, name="Blue mug")
    view = shop.c.product_queries().get("MUG-1")
    assert (view.sku, view.name, view.price, view.currency) == ("MUG-1", "Blue mug", 1250, "EUR")
    assert view.active is True
    assert view.available == 7
    assert view.version == 1


def test_a_product_can_be_created_inactive_and_without_stock(shop: Shop) -> None:
    shop.product("OFF-1", on_hand=0, active=False)
    view = shop.c.product_queries().get("OFF-1")
    assert (view.active, view.available) == (False, 0)


def test_sku_is_unique(shop: Shop) -> None:
    shop.product("AB-1", price=100, name="First")
    outbox_before = len(shop.store.outbox)
    with pytest.raises(AlreadyExists):
        shop.product("AB-1", price=999, name="Second")
    view = shop.c.product_queries().get("AB-1")
    assert (view.name, view.price) == ("First", 100)
    assert len(shop.store.outbox) == outbox_before


@pytest.mark.parametrize(
    ("sku", "name", "price", "on_hand"),
    [
        ("bad sku", "ok", 1, 0),
        ("AB-1", "", 1, 0),
        ("AB-1", "ok", -5, 0),
        ("AB-1", "ok", 1, -1),
        ("AB-1", "ok", 1, True),
    ],
)
def test_an_invalid_product_is_not_created(
    shop: Shop, sku: str, name: str, price: int, on_hand: int
) -> None:
    with pytest.raises(ValidationError):
        shop.product(sku, price=price, on_hand=on_hand, name=name)
    assert shop.store.products == {}
    assert shop.store.stock == {}
    assert shop.store.outbox == []


# Update --------------------------------------------------------------------------------


def test_update_changes_name_price_and_active(shop: Shop) -> None:
    shop.product("AB-1", price=100)
    shop.update("AB-1", name="Renamed", price=150, active=False)
    view = shop.c.product_queries().get("AB-1")
    assert (view.name, view.price, view.active, view.version) == ("Renamed", 150, False, 2)


def test_an_update_that_changes_nothing_is_a_no_op(shop: Shop) -> None:
    shop.product("AB-1", price=100, name="Same")
    events = len(shop.store.outbox)
    shop.update("AB-1", name="Same", price=100, active=True)
    assert shop.c.product_queries().get("AB-1").version == 1
    assert len(shop.store.outbox) == events


def test_an_invalid_update_changes_nothing_at_all(shop: Shop) -> None:
    """The valid name is applied to the aggregate before the bad price is seen; the unit
    of work must roll it back."""
    shop.product("AB-1", price=100, name="Original")
    events = len(shop.store.outbox)
    with pytest.raises(ValidationError):
        shop.update("AB-1", name="New name", price=-1)
    view = shop.c.product_queries().get("AB-1")
    assert (view.name, view.price, view.version) == ("Original", 100, 1)
    assert len(shop.store.outbox) == events


def test_updating_an_unknown_product_is_not_found(shop: Shop) -> None:
    with pytest.raises(NotFound):
        shop.update("NOPE-1", price=1)


def test_price_changes_do_not_touch_placed_orders(shop: Shop) -> None:
    shop.product("AB-1", price=100, on_hand=10)
    first = shop.place({"AB-1": 3})
    shop.update("AB-1", price=250)
    old = shop.order(first)
    assert (old.lines[0].unit_price, old.lines[0].line_total, old.total) == (100, 300, 300)
    new = shop.order(shop.place({"AB-1": 3}))
    assert (new.lines[0].unit_price, new.total) == (250, 750)
    # The gateway charged each order what it cost when placed.
    assert [(e.key, e.amount) for e in shop.ledger.decisions()] == [(first, 300), (new.id, 750)]


# Only active products can be ordered ----------------------------------------------------


def test_an_inactive_product_cannot_be_ordered(shop: Shop) -> None:
    shop.product("ON-1", on_hand=5)
    shop.product("OFF-1", on_hand=5, active=False)
    with pytest.raises(UnorderableProduct) as info:
        shop.place({"ON-1": 1, "OFF-1": 1})
    assert "OFF-1" in info.value.detail
    assert [p.field for p in info.value.errors] == ["lines[1].sku"]
    assert shop.store.orders == {}
    assert shop.stock("ON-1").reserved == 0


def test_deactivating_stops_new_orders_and_reactivating_allows_them(shop: Shop) -> None:
    shop.product("AB-1", on_hand=5)
    placed = shop.place({"AB-1": 1})
    shop.update("AB-1", active=False)
    with pytest.raises(UnorderableProduct):
        shop.place({"AB-1": 1})
    assert shop.order(placed).status == "paid"  # existing orders are unaffected
    shop.update("AB-1", active=True)
    assert shop.order(shop.place({"AB-1": 1})).status == "paid"


def test_an_unknown_sku_cannot_be_ordered(shop: Shop) -> None:
    shop.product("AB-1")
    with pytest.raises(UnorderableProduct, match="unknown SKU ZZ-9") as info:
        shop.place({"AB-1": 1, "ZZ-9": 1})
    assert info.value.code == "unorderable_product"
    assert isinstance(info.value, ValidationError)  # a 422, not a 409
    assert shop.stock("AB-1").reserved == 0


@pytest.mark.parametrize("active", ["no", "false", 0, 1, None])
def test_active_is_a_boolean(shop: Shop, active: Any) -> None:
    with pytest.raises(ValidationError) as info:
        shop.product("AB-1", active=active)
    assert [p.field for p in info.value.errors] == ["active"]
    shop.product("AB-1")
    if active is not None:  # None means "leave unchanged" in an update
        with pytest.raises(ValidationError):
            shop.update("AB-1", active=active)
    assert shop.store.products["AB-1"].active is True


def test_concurrent_creates_of_one_sku_make_one_product(shop: Shop) -> None:
    start = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        start.wait()
        try:
            shop.product("AB-1", price=n, on_hand=n)
        except AlreadyExists:
            outcome = "exists"
        else:
            outcome = "created"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created"] + ["exists"] * 7
    view = shop.c.product_queries().get("AB-1")
    assert view.available == view.price  # stock and product come from the same request
    assert [e.type for e in shop.envelopes()] == ["ProductCreated", "StockAdjusted"]


# Bulk import ---------------------------------------------------------------------------


def _import(shop: Shop, rows: list[ProductRow], seen: set[str] | None = None) -> ImportReport:
    report: ImportReport = shop.c.import_products()(rows, seen)
    return report


def test_import_creates_updates_and_rejects_rows_on_their_own(make_shop: MakeShop) -> None:
    shop = make_shop(deliver=False)
    shop.product("OLD-1", price=100, on_hand=10)
    shop.place({"OLD-1": 4})  # 4 reserved: on_hand may not go below
    report = _import(
        shop,
        [
            ProductRow(2, "NEW-1", "New", 250, 5),
            ProductRow(3, "bad sku", "Bad", 1, 1),
            ProductRow(4, "NEW-2", "", 1, 1),
            ProductRow(5, "NEW-3", "Negative", -1, 1),
            ProductRow(6, "OLD-1", "Renamed", 120, 3),  # below the 4 reserved
            ProductRow(7, "NEW-1", "Again", 1, 1),  # repeated in the file
            ProductRow(8, "NEW-4", "Off", 10, 0, active=False),
        ],
    )
    assert report.accepted == 2
    assert [line for line, _ in report.rejected] == [3, 4, 5, 6, 7]
    assert "NEW-1" in dict(report.rejected)[7]
    products = shop.c.product_queries()
    assert (products.get("NEW-1").price, products.get("NEW-1").available) == (250, 5)
    assert products.get("NEW-4").active is False
    old = products.get("OLD-1")  # the rejected row changed nothing at all
    assert (old.name, old.price, shop.stock("OLD-1").on_hand) == ("Product OLD-1", 100, 10)
    for sku in ("NEW-2", "NEW-3"):
        with pytest.raises(NotFound):
            products.get(sku)
    shop.store.check_invariants()


def test_import_updates_known_products_and_remembers_earlier_batches(shop: Shop) -> None:
    shop.product("OLD-1", price=100, on_hand=10)
    seen: set[str] = set()
    first = _import(shop, [ProductRow(2, "OLD-1", "Renamed", 150, 20)], seen)
    second = _import(shop, [ProductRow(3, "OLD-1", "Again", 1, 1)], seen)
    assert (first.accepted, first.rejected) == (1, [])
    assert (second.accepted, [line for line, _ in second.rejected]) == (0, [3])
    view = shop.c.product_queries().get("OLD-1")
    assert (view.name, view.price, view.available) == ("Renamed", 150, 20)
    assert sorted(e.type for e in shop.envelopes()[-2:]) == ["ProductUpdated", "StockAdjusted"]
