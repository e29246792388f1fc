"""Placing orders: line rules, totals, and all-or-nothing with real rollback (docs/domain.md)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from adapters.system import UuidGenerator
from core.domain.errors import InsufficientStock, Shortage, ValidationError
from core.domain.orders import Order, OrderLine, RequestedLine
from core.ports.errors import ConcurrencyConflict
from core.ports.unit_of_work import UnitOfWorkFactory
from core.use_cases.ordering import PlaceOrderCommand
from tests.unit.conftest import MakeShop
from tests.unit.shop import ALICE, Shop


def _snapshot(shop: Shop) -> tuple[object, ...]:
    """Everything a placement could touch."""
    s = shop.store
    return (
        {sku: (i.on_hand, i.reserved, s.reservations_on(sku)) for sku, i in s.stock.items()},
        sorted(s.orders),
        len(s.outbox),
        dict(s.idempotency),
        shop.ledger.charges(),
    )


def test_placing_an_order(shop: Shop) -> None:
    shop.product("AB-1", price=250, on_hand=10)
    shop.product("CD-2", price=1999, on_hand=3)
    result = shop.place_result({"AB-1": 4, "CD-2": 3})
    order = result.order
    assert result.replayed is False
    assert (order.customer_id, order.status, order.currency) == (
        ALICE.principal_id,
        "pending_payment",
        "EUR",
    )
    assert [(ln.sku, ln.quantity, ln.unit_price, ln.line_total) for ln in order.lines] == [
        ("AB-1", 4, 250, 1000),
        ("CD-2", 3, 1999, 5997),
    ]
    assert order.total == 6997 == sum(ln.line_total for ln in order.lines)
    assert shop.stock("AB-1").reserved == 4
    assert shop.stock("CD-2").available == 0


def test_a_short_line_reserves_nothing_and_creates_nothing(shop: Shop) -> None:
    shop.product("AB-1", on_hand=10)
    shop.product("CD-2", on_hand=2)
    shop.product("EF-3", on_hand=0)
    before = _snapshot(shop)
    with pytest.raises(InsufficientStock) as info:
        shop.place({"AB-1": 5, "CD-2": 3, "EF-3": 1})
    assert info.value.code == "insufficient_stock"
    assert info.value.shortages == [Shortage("CD-2", 3, 2), Shortage("EF-3", 1, 0)]
    assert _snapshot(shop) == before


class CollidingIds(UuidGenerator):
    """Hands out an id that is already taken while `taken` is set: the order insert fails
    after every line was reserved, so only a real rollback can leave no trace."""

    def __init__(self) -> None:
        self.taken: str | None = None

    def new_id(self) -> str:
        return self.taken or super().new_id()


def test_a_failure_after_reserving_rolls_everything_back(make_shop: MakeShop) -> None:
    ids = CollidingIds()
    shop = make_shop(ids=ids, deliver=False)
    shop.product("AB-1", on_hand=10)
    shop.product("CD-2", on_hand=10)
    existing = shop.place({"AB-1": 1})
    before = _snapshot(shop)
    ids.taken = existing
    with pytest.raises(ConcurrencyConflict):
        shop.place_result({"CD-2": 4}, key="k-1")
    ids.taken = None
    assert _snapshot(shop) == before
    assert shop.store.stock["CD-2"].reserved == 0
    shop.store.check_invariants()
    # And the same request succeeds once the conflict is gone.
    assert shop.order(shop.place({"CD-2": 4}, key="k-1")).total == 400


def test_leaving_a_unit_of_work_without_commit_changes_nothing(shop: Shop) -> None:
    shop.product("AB-1", on_hand=10)
    before = _snapshot(shop)
    uow_factory: UnitOfWorkFactory = shop.c.uow_factory()
    with pytest.raises(RuntimeError), uow_factory() as uow:
        item = uow.stock.get_many(["AB-1"])["AB-1"]
        reservation = item.reserve("o-1", 5)
        uow.stock.save(item)
        uow.reservations.add(reservation)
        order = Order.place("o-1", "alice", [OrderLine("AB-1", 5, 100)], "EUR", shop.clock.now())
        uow.orders.add(order)
        uow.products.get("AB-1").update(shop.clock.now(), name="changed")  # type: ignore[union-attr]
        uow.inbox.add("some.handler", "event-1")
        raise RuntimeError("boom")
    assert _snapshot(shop) == before
    assert shop.store.products["AB-1"].name == "Product AB-1"
    assert shop.store.inbox == set()
    # Reads inside a unit of work are copies: mutating one never leaks into the store.
    with uow_factory() as uow:
        uow.stock.get("AB-1").on_hand = 999  # type: ignore[union-attr]
    assert shop.stock("AB-1").on_hand == 10


# Line rules ----------------------------------------------------------------------------


def test_one_to_a_hundred_lines(shop: Shop) -> None:
    skus = [f"P-{n:03d}" for n in range(101)]
    for sku in skus:
        shop.product(sku, price=1, on_hand=1)
    order = shop.order(shop.place({sku: 1 for sku in skus[:100]}))
    assert (len(order.lines), order.total) == (100, 100)
    before = _snapshot(shop)
    for lines in ([], [(sku, 1) for sku in skus]):
        with pytest.raises(ValidationError, match="1-100 lines") as info:
            shop.place(lines)
        assert info.value.errors[0].field == "lines"
    assert _snapshot(shop) == before


def test_a_repeated_sku_is_refused_naming_it(shop: Shop) -> None:
    shop.product("AB-1", on_hand=10)
    shop.product("CD-2", on_hand=10)
    with pytest.raises(ValidationError) as info:
        shop.place([("AB-1", 1), ("CD-2", 1), ("AB-1", 2)])
    assert info.value.code == "validation_error"
    assert "AB-1" in info.value.detail
    assert [(p.field, p.message) for p in info.value.errors] == [
        ("lines[2].sku", "SKU AB-1 is repeated")
    ]
    assert shop.store.orders == {}
    assert shop.stock("AB-1").reserved == 0


@pytest.mark.parametrize("quantity", [0, -1, 1001, True, 1.0, "2"])
def test_quantity_is_an_integer_from_1_to_1000(shop: Shop, quantity: Any) -> None:
    shop.product("AB-1", on_hand=5000)
    with pytest.raises(ValidationError) as info:
        shop.c.place_order()(PlaceOrderCommand("alice", [RequestedLine("AB-1", quantity)]))
    assert [p.field for p in info.value.errors] == ["lines[0].quantity"]
    assert shop.store.orders == {}


@pytest.mark.parametrize("quantity", [1, 1000])
def test_quantity_bounds_are_inclusive(shop: Shop, quantity: int) -> None:
    shop.product("AB-1", price=3, on_hand=1000)
    assert shop.order(shop.place({"AB-1": quantity})).total == 3 * quantity


def test_a_malformed_sku_in_a_line_names_the_line(shop: Shop) -> None:
    with pytest.raises(ValidationError) as info:
        shop.place({"ok-lower": 1})
    assert [p.field for p in info.value.errors] == ["lines[0].sku"]


def test_a_free_product_makes_a_zero_total(shop: Shop) -> None:
    shop.product("FREE-1", price=0, on_hand=2)
    order = shop.order(shop.place({"FREE-1": 2}))
    assert (order.total, order.status) == (0, "paid")


def test_concurrent_orders_never_oversell(shop: Shop) -> None:
    shop.product("HOT-1", on_hand=50)
    quantities = [1, 2, 3, 4, 5, 6, 7] * 4
    start = threading.Barrier(len(quantities))
    placed: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def place(quantity: int) -> None:
        start.wait()
        try:
            shop.place({"HOT-1": quantity})
        except InsufficientStock:
            with lock:
                refused.append(quantity)
            return
        with lock:
            placed.append(quantity)

    threads = [threading.Thread(target=place, args=(q,)) for q in quantities]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(placed) + len(refused) == len(quantities)
    assert sum(placed) == shop.stock("HOT-1").reserved <= 50
    assert all(q > 50 - sum(placed) for q in refused)  # refused only when it did not fit
    assert len(shop.store.orders) == len(placed)
    shop.store.check_invariants()
