"""Stock invariants: set, adjust, reserve, release, commit (docs/domain.md: Stock)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.domain.errors import (
    Conflict,
    InsufficientStock,
    NotFound,
    StockBelowReserved,
    ValidationError,
)
from core.domain.stock import Reservation, StockItem
from tests.unit.conftest import MakeShop
from tests.unit.shop import Shop

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _stock(shop: Shop, sku: str) -> tuple[int, int, int]:
    view = shop.stock(sku)
    assert view.available == view.on_hand - view.reserved
    return view.on_hand, view.reserved, view.available


@pytest.fixture
def pending(make_shop: MakeShop) -> Shop:
    """A shop whose payment worker is down, so placed orders stay pending (stock reserved)."""
    shop = make_shop(deliver=False)
    shop.product("AB-1", on_hand=10)
    return shop


# Domain object -------------------------------------------------------------------------


@pytest.mark.parametrize(("on_hand", "reserved"), [(-1, 0), (0, -1), (3, 4)])
def test_a_stock_item_cannot_be_built_broken(on_hand: int, reserved: int) -> None:
    with pytest.raises(ValidationError):
        StockItem("AB-1", on_hand, reserved)


def test_reservations_belong_to_orders() -> None:
    item = StockItem("AB-1", on_hand=10)
    o1 = item.reserve("o1", 4)
    o2 = item.reserve("o2", 5)
    assert (item.reserved, item.available) == (9, 1)
    assert (o1, o2) == (Reservation("o1", "AB-1", 4), Reservation("o2", "AB-1", 5))
    with pytest.raises(StockBelowReserved):
        item.reserve("o3", 2)  # only 1 available: never oversold
    # An order reserving a SKU twice is refused by the reservations' storage: see
    # tests/contract/test_repositories.py (a reservation is an entity of its own).
    with pytest.raises(ValidationError):
        item.reserve("o4", 0)
    with pytest.raises(ValidationError):
        Reservation("o4", "AB-1", 0)
    assert item.release(o1) == 4
    assert item.release(o1) == 0  # released at most once
    assert (item.on_hand, item.reserved) == (10, 5)
    assert item.commit(o2) == 5  # shipping: on_hand and reserved both drop
    assert (item.on_hand, item.reserved, o2.ended) == (5, 0, True)
    assert item.commit(o2) == 0
    with pytest.raises(ValueError, match="not held on CD-2"):
        StockItem("CD-2", on_hand=5).release(Reservation("o5", "AB-1", 1))


# Set -----------------------------------------------------------------------------------


def test_set_on_hand(shop: Shop) -> None:
    shop.product("AB-1", on_hand=10)
    shop.set_stock("AB-1", 25)
    assert _stock(shop, "AB-1") == (25, 0, 25)
    shop.set_stock("AB-1", 0)
    assert _stock(shop, "AB-1") == (0, 0, 0)


def test_setting_on_hand_below_reserved_is_refused_never_clamped(pending: Shop) -> None:
    pending.place({"AB-1": 6})
    with pytest.raises(StockBelowReserved) as info:
        pending.set_stock("AB-1", 5)
    assert isinstance(info.value, Conflict)  # a 409
    assert info.value.code == "stock_below_reserved"
    assert _stock(pending, "AB-1") == (10, 6, 4)
    pending.set_stock("AB-1", 6)  # exactly the reserved amount is fine
    assert _stock(pending, "AB-1") == (6, 6, 0)


@pytest.mark.parametrize("on_hand", [-1, True, 2.5, "5"])
def test_set_on_hand_must_be_a_non_negative_integer(shop: Shop, on_hand: Any) -> None:
    shop.product("AB-1", on_hand=10)
    with pytest.raises(ValidationError):
        shop.set_stock("AB-1", on_hand)
    assert _stock(shop, "AB-1") == (10, 0, 10)


# Adjust --------------------------------------------------------------------------------


def test_adjust_by_a_delta(shop: Shop) -> None:
    shop.product("AB-1", on_hand=10)
    shop.adjust("AB-1", 5, "delivery")
    shop.adjust("AB-1", -12, "breakage")
    assert _stock(shop, "AB-1") == (3, 0, 3)


def test_adjusting_below_zero_is_refused(shop: Shop) -> None:
    shop.product("AB-1", on_hand=3)
    with pytest.raises(StockBelowReserved, match="below zero"):
        shop.adjust("AB-1", -4)
    assert _stock(shop, "AB-1") == (3, 0, 3)
    shop.adjust("AB-1", -3)
    assert _stock(shop, "AB-1") == (0, 0, 0)


def test_adjusting_below_reserved_is_refused(pending: Shop) -> None:
    pending.place({"AB-1": 7})
    with pytest.raises(StockBelowReserved, match="below the 7 reserved"):
        pending.adjust("AB-1", -4)
    assert _stock(pending, "AB-1") == (10, 7, 3)
    pending.adjust("AB-1", -3)
    assert _stock(pending, "AB-1") == (7, 7, 0)


@pytest.mark.parametrize(
    ("delta", "reason"),
    [
        (0, "count"),
        (True, "count"),
        (1.5, "count"),
        (1, ""),
        (1, "   "),
        (1, "r" * 201),
        (1, "lost \udcff"),
    ],
)
def test_adjust_needs_a_non_zero_integer_and_a_reason(shop: Shop, delta: Any, reason: str) -> None:
    shop.product("AB-1", on_hand=10)
    with pytest.raises(ValidationError):
        shop.adjust("AB-1", delta, reason)
    assert _stock(shop, "AB-1") == (10, 0, 10)


def test_stock_of_an_unknown_or_malformed_sku(shop: Shop) -> None:
    with pytest.raises(NotFound):
        shop.set_stock("NOPE-1", 1)
    with pytest.raises(NotFound):
        shop.adjust("NOPE-1", 1)
    with pytest.raises(NotFound):
        shop.stock("NOPE-1")
    with pytest.raises(ValidationError):
        shop.adjust("bad sku", 1)
    with pytest.raises(ValidationError):
        shop.set_stock("bad sku", 1)


# Reserve, release, commit through the use cases -----------------------------------------


def test_placing_reserves_cancelling_releases(pending: Shop) -> None:
    order_id = pending.place({"AB-1": 4})
    assert _stock(pending, "AB-1") == (10, 4, 6)
    assert pending.c.product_queries().get("AB-1").available == 6
    assert pending.store.reservations_on("AB-1") == {order_id: 4}
    pending.cancel(order_id)
    assert _stock(pending, "AB-1") == (10, 0, 10)
    assert pending.store.reservations_on("AB-1") == {}


def test_shipping_commits_the_reservation(shop: Shop) -> None:
    shop.product("AB-1", on_hand=10)
    shop.product("CD-2", on_hand=5)
    keep = shop.place({"AB-1": 1})
    order_id = shop.place({"AB-1": 4, "CD-2": 5})
    assert _stock(shop, "AB-1") == (10, 5, 5)
    shop.ship(order_id)
    assert _stock(shop, "AB-1") == (6, 1, 5)  # on_hand and reserved both drop
    assert _stock(shop, "CD-2") == (0, 0, 0)
    # The other order's reservation is untouched.
    assert shop.store.reservations_on("AB-1") == {keep: 1}
    shop.store.check_invariants()


def test_stock_is_never_oversold(shop: Shop) -> None:
    shop.product("AB-1", on_hand=5)
    shop.place({"AB-1": 3})
    shop.place({"AB-1": 2})
    with pytest.raises(InsufficientStock):
        shop.place({"AB-1": 1})
    assert _stock(shop, "AB-1") == (5, 5, 0)
