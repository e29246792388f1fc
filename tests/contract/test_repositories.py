"""Repository contract: aggregates round-trip unchanged, and a lost race is ConcurrencyConflict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.domain.catalog import Product
from core.domain.money import Money
from core.domain.orders import CancelReason, Order, OrderLine, OrderStatus
from core.domain.payments import Payment, PaymentStatus
from core.domain.principals import Principal, Role, hash_api_key
from core.domain.stock import Reservation, StockItem
from core.ports.errors import ConcurrencyConflict
from tests.contract.builders import add_product, held, place
from tests.contract.conftest import Backend

# --- products -----------------------------------------------------------------


def test_product_round_trips_with_aware_utc_times(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1", price=1234, active=False)
    with backend.uow() as uow:
        product = uow.products.get("SKU-1")
    assert product is not None
    assert (product.sku, product.name, product.price, product.active, product.version) == (
        "SKU-1",
        "Product SKU-1",
        Money(1234, "EUR"),
        False,
        1,
    )
    assert product.created_at == now and product.updated_at == now
    assert product.created_at is not None and product.created_at.tzinfo is not None
    assert product.created_at.utcoffset() == timedelta(0)


def test_unknown_product_is_none_and_get_many_returns_only_known(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "B-1")
    add_product(backend.uow, now, "A-1")
    with backend.uow() as uow:
        assert uow.products.get("NOPE") is None
        found = uow.products.get_many(["B-1", "NOPE", "A-1"])
        assert uow.products.get_many([]) == {}
        unlocked = uow.products.get_many(["B-1", "NOPE", "A-1"], lock=False)
    assert sorted(found) == ["A-1", "B-1"]
    assert found["A-1"].sku == "A-1"
    # A placement's read sees the same products, prices and flags.
    assert {sku: (p.price, p.active, p.version) for sku, p in unlocked.items()} == {
        sku: (p.price, p.active, p.version) for sku, p in found.items()
    }


def test_product_save_persists_changes_and_version(backend: Backend) -> None:
    add_product(backend.uow, backend.clock.now(), "SKU-1")
    with backend.uow() as uow:
        product = uow.products.get("SKU-1")
        assert product is not None
        assert product.update(backend.clock.now(), name="Renamed", price=999)
        uow.products.save(product)
        uow.commit()
    with backend.uow() as uow:
        stored = uow.products.get("SKU-1")
    assert stored is not None
    assert (stored.name, stored.price.amount, stored.version) == ("Renamed", 999, 2)


def test_adding_an_existing_product_is_a_conflict(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1")
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.products.add(Product.create("SKU-1", "Again", Money(1, "EUR"), True, now))
        uow.commit()


def test_saving_a_product_that_was_never_stored_is_a_conflict(backend: Backend) -> None:
    now = backend.clock.now()
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.products.save(Product("GHOST", "Ghost", Money(1, "EUR"), True, 1, now, now))
        uow.commit()


# --- stock --------------------------------------------------------------------


def test_stock_get_loads_counters_and_reservations_are_loaded_apart(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1", on_hand=10)
    place(backend.uow, "order-a", {"SKU-1": 2}, now)
    with backend.uow() as uow:
        item = uow.stock.get("SKU-1")
        assert uow.stock.get("NOPE") is None
        reservations = held(uow, "order-a")
    assert item is not None
    assert (item.on_hand, item.reserved, item.available, reservations) == (10, 2, 8, {"SKU-1": 2})


def test_reservations_are_loaded_by_order_only(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1", on_hand=10)
    add_product(backend.uow, now, "SKU-2", on_hand=10)
    place(backend.uow, "order-a", {"SKU-1": 2, "SKU-2": 1}, now)
    place(backend.uow, "order-b", {"SKU-1": 3}, now)
    with backend.uow() as uow:
        stock = uow.stock.get_many(["SKU-2", "SKU-1", "NOPE"])
        for_a = uow.reservations.of_order("order-a")
        for_c = uow.reservations.of_order("order-c")
    assert sorted(stock) == ["SKU-1", "SKU-2"]
    assert for_a == {
        "SKU-1": Reservation("order-a", "SKU-1", 2),
        "SKU-2": Reservation("order-a", "SKU-2", 1),
    }
    assert stock["SKU-1"].reserved == 5
    assert for_c == {}
    assert stock["SKU-2"].reserved == 1


def test_releasing_removes_only_that_orders_reservation(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1", on_hand=10)
    place(backend.uow, "order-a", {"SKU-1": 2}, now)
    place(backend.uow, "order-b", {"SKU-1": 3}, now)
    with backend.uow() as uow:
        reservation = uow.reservations.of_order("order-a")["SKU-1"]
        item = uow.stock.get_many(["SKU-1"])["SKU-1"]
        assert item.release(reservation) == 2
        uow.stock.save(item)
        uow.reservations.save(reservation)
        uow.commit()
    with backend.uow() as uow:
        for_a, for_b = held(uow, "order-a"), held(uow, "order-b")
        stored = uow.stock.get("SKU-1")
    assert for_a == {} and stored is not None and stored.reserved == 3
    assert for_b == {"SKU-1": 3}
    view = backend.queries.get_stock("SKU-1")
    assert view is not None and (view.on_hand, view.reserved, view.available) == (10, 3, 7)


def test_a_reservation_is_removed_once(backend: Backend) -> None:
    """A second transaction ending the same reservation (from a stale copy) loses."""
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1", on_hand=10)
    place(backend.uow, "order-a", {"SKU-1": 2}, now)
    with backend.uow() as uow:
        reservation = uow.reservations.of_order("order-a")["SKU-1"]
    stale = Reservation("order-a", "SKU-1", 2)
    assert reservation.end() == stale.end() == 2
    with backend.uow() as uow:
        uow.reservations.save(reservation)
        uow.commit()
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.reservations.save(stale)
        uow.commit()


def test_an_order_reserves_a_sku_once(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1", on_hand=10)
    place(backend.uow, "order-a", {"SKU-1": 2}, now)
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.reservations.add(Reservation("order-a", "SKU-1", 1))
        uow.commit()
    with backend.uow() as uow:
        assert held(uow, "order-a") == {"SKU-1": 2}


def test_shipping_commits_the_reservation(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1", on_hand=10)
    place(backend.uow, "order-a", {"SKU-1": 4}, now)
    with backend.uow() as uow:
        reservation = uow.reservations.of_order("order-a")["SKU-1"]
        item = uow.stock.get_many(["SKU-1"])["SKU-1"]
        assert item.commit(reservation) == 4
        uow.stock.save(item)
        uow.reservations.save(reservation)
        uow.commit()
    with backend.uow() as uow:
        again = uow.stock.get_many(["SKU-1"])["SKU-1"]
        reservations = held(uow, "order-a")
    assert (again.on_hand, again.reserved, reservations) == (6, 0, {})


def test_a_changed_reservation_quantity_is_saved(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1", on_hand=10)
    place(backend.uow, "order-a", {"SKU-1": 2}, now)
    with backend.uow() as uow:
        reservation = uow.reservations.of_order("order-a")["SKU-1"]
        item = uow.stock.get_many(["SKU-1"])["SKU-1"]
        reservation.quantity = 5
        item.reserved = 5
        item.version += 1
        uow.stock.save(item)
        uow.reservations.save(reservation)
        uow.commit()
    with backend.uow() as uow:
        again = uow.stock.get_many(["SKU-1"])["SKU-1"]
        reservations = held(uow, "order-a")
    assert (again.reserved, reservations) == (5, {"SKU-1": 5})


def test_a_unit_of_work_reads_back_what_it_saved(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1", on_hand=10)
    place(backend.uow, "order-a", {"SKU-1": 2}, now)
    with backend.uow() as uow:
        reservation = uow.reservations.of_order("order-a")["SKU-1"]
        item = uow.stock.get_many(["SKU-1"])["SKU-1"]
        item.release(reservation)
        uow.stock.save(item)
        uow.reservations.save(reservation)
        # Released and taken again, in one transaction.
        uow.reservations.add(item.reserve("order-a", 5))
        uow.stock.save(item)
        again = uow.stock.get_many(["SKU-1"])["SKU-1"]
        assert (again.reserved, held(uow, "order-a"), again.version) == (5, {"SKU-1": 5}, 5)
        product = uow.products.get("SKU-1")
        assert product is not None
        product.update(now, name="Renamed")
        uow.products.save(product)
        reloaded = uow.products.get_many(["SKU-1"])["SKU-1"]
        assert (reloaded.name, reloaded.version) == ("Renamed", 2)
        uow.commit()
    with backend.uow() as uow:
        stored = uow.stock.get_many(["SKU-1"])["SKU-1"]
        reservations = held(uow, "order-a")
    assert (stored.reserved, reservations) == (5, {"SKU-1": 5})


def test_saving_stock_keeps_its_reservations(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1", on_hand=10)
    place(backend.uow, "order-a", {"SKU-1": 2}, now)
    with backend.uow() as uow:
        item = uow.stock.get("SKU-1")
        assert item is not None
        item.set_on_hand(20, now)
        uow.stock.save(item)
        uow.commit()
    with backend.uow() as uow:
        again = uow.stock.get_many(["SKU-1"])["SKU-1"]
        reservations = held(uow, "order-a")
    assert (again.on_hand, again.reserved, reservations) == (20, 2, {"SKU-1": 2})
    assert again.version == 4  # initial stock, reserve, set


def test_adding_existing_stock_or_saving_missing_stock_is_a_conflict(backend: Backend) -> None:
    add_product(backend.uow, backend.clock.now(), "SKU-1")
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.stock.add(StockItem("SKU-1"))
        uow.commit()
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.stock.save(StockItem("GHOST", on_hand=1))
        uow.commit()


# --- orders -------------------------------------------------------------------


def test_order_round_trips_with_lines_in_order(backend: Backend) -> None:
    now = backend.clock.now()
    for sku in ("C-1", "A-1", "B-1"):
        add_product(backend.uow, now, sku)
    placed = place(backend.uow, "order-1", {"C-1": 3, "A-1": 1, "B-1": 2}, now, customer="cust")
    with backend.uow() as uow:
        order = uow.orders.get("order-1")
        assert uow.orders.get("nope") is None
    assert order is not None
    assert order.lines == placed.lines
    assert [line.sku for line in order.lines] == ["C-1", "A-1", "B-1"]
    assert (order.customer_id, order.status, order.total, order.version) == (
        "cust",
        OrderStatus.PENDING_PAYMENT,
        Money(600, "EUR"),
        1,
    )
    assert order.created_at == now and order.created_at.tzinfo is not None
    assert order.cancel_reason is None


def test_order_status_changes_are_saved(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1")
    place(backend.uow, "order-1", {"SKU-1": 1}, now)
    with backend.uow() as uow:
        order = uow.orders.get("order-1")
        assert order is not None
        order.mark_paid(backend.clock.now())
        uow.orders.save(order)
        uow.commit()
    later = backend.clock.now()
    with backend.uow() as uow:
        order = uow.orders.get("order-1")
        assert order is not None and order.status is OrderStatus.PAID
        order.cancel(CancelReason.ADMIN_REQUEST, later)
        uow.orders.save(order)
        uow.commit()
    with backend.uow() as uow:
        stored = uow.orders.get("order-1")
    assert stored is not None
    assert (stored.status, stored.cancel_reason, stored.version) == (
        OrderStatus.CANCELLED,
        CancelReason.ADMIN_REQUEST,
        3,
    )
    assert stored.updated_at == later and stored.created_at == now


def test_adding_an_existing_order_or_saving_a_missing_one_is_a_conflict(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1")
    place(backend.uow, "order-1", {"SKU-1": 1}, now)
    duplicate = Order.place("order-1", "c1", [OrderLine("SKU-1", 1, 1)], "EUR", now)
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.orders.add(duplicate)
        uow.commit()
    ghost = Order.place("ghost", "c1", [OrderLine("SKU-1", 1, 1)], "EUR", now)
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.orders.save(ghost)
        uow.commit()


def test_pending_before_lists_old_unpaid_orders_oldest_first(backend: Backend) -> None:
    start = backend.clock.now()
    add_product(backend.uow, start, "SKU-1", on_hand=100)
    for index in range(4):
        place(backend.uow, f"order-{index}", {"SKU-1": 1}, start + timedelta(minutes=index))
    with backend.uow() as uow:
        paid = uow.orders.get("order-1")
        assert paid is not None
        paid.mark_paid(start)
        uow.orders.save(paid)
        uow.commit()
    cutoff = start + timedelta(minutes=3)
    with backend.uow() as uow:
        assert uow.orders.pending_before(cutoff, 10) == ["order-0", "order-2"]
        assert uow.orders.pending_before(cutoff, 1) == ["order-0"]
        assert uow.orders.pending_before(start, 10) == []


# --- payments -----------------------------------------------------------------


def test_payment_round_trips_and_refund_is_saved(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1")
    place(backend.uow, "order-1", {"SKU-1": 1}, now)
    payment = Payment("order-1", 100, "EUR", "ch_1", PaymentStatus.CAPTURED, now)
    with backend.uow() as uow:
        assert uow.payments.get("order-1") is None
        uow.payments.add(payment)
        uow.commit()
    refunded_at = backend.clock.now()
    with backend.uow() as uow:
        stored = uow.payments.get("order-1")
        assert stored is not None and stored.refundable
        stored.mark_refunded("re_1", refunded_at)
        uow.payments.save(stored)
        uow.commit()
    with backend.uow() as uow:
        again = uow.payments.get("order-1")
    assert again is not None
    assert (again.amount, again.charge_id, again.status, again.refund_id, again.version) == (
        100,
        "ch_1",
        PaymentStatus.REFUNDED,
        "re_1",
        2,
    )
    assert again.refunded_at == refunded_at and again.created_at == now


def test_a_second_payment_for_an_order_is_a_conflict(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1")
    place(backend.uow, "order-1", {"SKU-1": 1}, now)
    with backend.uow() as uow:
        uow.payments.add(Payment("order-1", 100, "EUR", "ch_1", PaymentStatus.CAPTURED, now))
        uow.commit()
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.payments.add(Payment("order-1", 100, "EUR", "ch_2", PaymentStatus.CAPTURED, now))
        uow.commit()


def test_saving_a_payment_that_was_never_stored_is_a_conflict(backend: Backend) -> None:
    now = backend.clock.now()
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.payments.save(Payment("ghost", 1, "EUR", "ch", PaymentStatus.CAPTURED, now))
        uow.commit()


# --- principals ---------------------------------------------------------------


def _principal(name: str, key: str, principal_id: str) -> Principal:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    return Principal(principal_id, name, Role.CUSTOMER, hash_api_key(key), created)


def test_principal_is_found_by_id_name_and_key_hash_and_revocation_is_saved(
    backend: Backend,
) -> None:
    with backend.uow() as uow:
        uow.principals.add(_principal("alice", "key-a", "p-1"))
        uow.commit()
    with backend.uow() as uow:
        by_id = uow.principals.get("p-1")
        by_name = uow.principals.get_by_name("alice")
        by_key = uow.principals.get_by_key_hash(hash_api_key("key-a"))
        assert uow.principals.get_by_name("bob") is None
        assert uow.principals.get_by_key_hash(hash_api_key("other")) is None
        assert by_id is not None and by_id.active
        assert by_id.revoke(backend.clock.now())
        uow.principals.save(by_id)
        uow.commit()
    assert by_name is not None and by_key is not None
    assert by_name.id == by_key.id == "p-1" and by_name.role is Role.CUSTOMER
    with backend.uow() as uow:
        revoked = uow.principals.get("p-1")
    assert revoked is not None and not revoked.active and revoked.version == 2


def test_a_second_principal_with_the_same_name_is_a_conflict(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.principals.add(_principal("alice", "key-a", "p-1"))
        uow.commit()
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.principals.add(_principal("alice", "key-b", "p-2"))
        uow.commit()


def test_saving_a_principal_that_was_never_stored_is_a_conflict(backend: Backend) -> None:
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.principals.save(_principal("ghost", "key-g", "p-9"))
        uow.commit()
