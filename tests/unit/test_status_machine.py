"""The order status machine: every legal and illegal transition (docs/domain.md: Orders)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.domain.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    VersionMismatch,
)
from core.domain.events import OrderCancelled
from core.domain.orders import CancelReason, Order, OrderLine, OrderStatus
from tests.unit.conftest import MakeShop
from tests.unit.shop import ADMIN, ALICE, BOB, Shop

NOW = datetime(2026, 1, 1, tzinfo=UTC)
P, PAID, S, C = (
    OrderStatus.PENDING_PAYMENT,
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.CANCELLED,
)

# (from, action) -> the status after it, "noop" for an idempotent repeat, or None if refused.
MACHINE: dict[tuple[OrderStatus, str], OrderStatus | str | None] = {
    (P, "pay"): PAID,
    (P, "ship"): None,
    (P, "cancel"): C,
    (PAID, "pay"): None,
    (PAID, "ship"): S,
    (PAID, "cancel"): C,
    (S, "pay"): None,
    (S, "ship"): "noop",
    (S, "cancel"): None,
    (C, "pay"): None,
    (C, "ship"): None,
    (C, "cancel"): "noop",
}
EVENT_OF = {"pay": "OrderPaid", "ship": "OrderShipped", "cancel": "OrderCancelled"}


def _order_in(status: OrderStatus) -> Order:
    order = Order.place("o-1", "alice", [OrderLine("AB-1", 2, 150)], "EUR", NOW)
    path = {P: [], PAID: ["pay"], S: ["pay", "ship"], C: ["cancel"]}[status]
    for action in path:
        _apply(order, action)
    order.pull_events()
    assert order.status is status
    return order


def _apply(order: Order, action: str) -> None:
    if action == "pay":
        order.mark_paid(NOW)
    elif action == "ship":
        order.ship(NOW)
    else:
        order.cancel(CancelReason.ADMIN_REQUEST, NOW)


@pytest.mark.parametrize(("start", "action"), list(MACHINE))
def test_every_transition_of_the_machine(start: OrderStatus, action: str) -> None:
    order = _order_in(start)
    version = order.version
    expected = MACHINE[(start, action)]
    if expected is None:
        with pytest.raises(InvalidTransition) as info:
            _apply(order, action)
        assert info.value.code == "invalid_transition"
        assert isinstance(info.value, Conflict)  # a 409
        assert (order.status, order.version, order.pull_events()) == (start, version, [])
    elif expected == "noop":
        _apply(order, action)
        assert (order.status, order.version, order.pull_events()) == (start, version, [])
    else:
        _apply(order, action)
        events = order.pull_events()
        assert order.status is expected
        assert order.version == version + 1
        assert [e.type_name for e in events] == [EVENT_OF[action]]


def test_cancel_records_the_reason_and_whether_it_was_paid() -> None:
    pending, paid = _order_in(P), _order_in(PAID)
    pending.cancel(CancelReason.PAYMENT_TIMEOUT, NOW)
    paid.cancel(CancelReason.CUSTOMER_REQUEST, NOW)
    assert pending.cancel_reason is CancelReason.PAYMENT_TIMEOUT
    for order, expected in (
        (pending, ("payment_timeout", False)),
        (paid, ("customer_request", True)),
    ):
        (event,) = order.pull_events()
        assert isinstance(event, OrderCancelled)
        assert (event.reason, event.was_paid) == expected


# Through the use cases -----------------------------------------------------------------


@pytest.fixture
def pending(make_shop: MakeShop) -> Shop:
    """Payment worker down: orders stay pending_payment until the test pays them."""
    shop = make_shop(deliver=False)
    shop.product("AB-1", on_hand=10)
    return shop


def test_a_pending_order_cannot_be_shipped(pending: Shop) -> None:
    order_id = pending.place({"AB-1": 2})
    with pytest.raises(InvalidTransition, match="pending_payment"):
        pending.ship(order_id)
    view = pending.order(order_id)
    assert (view.status, view.version) == ("pending_payment", 1)
    assert pending.stock("AB-1").reserved == 2


def test_paid_then_shipped_and_shipping_again_is_a_no_op(shop: Shop) -> None:
    shop.product("AB-1", on_hand=10)
    order_id = shop.place({"AB-1": 2})
    assert shop.order(order_id).status == "paid"
    first = shop.ship(order_id)
    again = shop.ship(order_id)
    assert first == again
    assert (again.status, again.version) == ("shipped", 3)
    assert shop.types(order_id) == ["OrderPlaced", "OrderPaid", "OrderShipped"]
    assert (shop.stock("AB-1").on_hand, shop.stock("AB-1").reserved) == (8, 0)


def test_shipped_orders_cannot_be_cancelled(shop: Shop) -> None:
    shop.product("AB-1", on_hand=10)
    order_id = shop.place({"AB-1": 2})
    shop.ship(order_id)
    for actor in (ADMIN, ALICE):
        with pytest.raises(InvalidTransition):
            shop.cancel(order_id, actor)
    assert shop.order(order_id).status == "shipped"
    assert shop.ledger.refunds() == {}


def test_cancelling_twice_returns_the_order_unchanged(pending: Shop) -> None:
    order_id = pending.place({"AB-1": 2})
    first = pending.cancel(order_id, ALICE)
    again = pending.cancel(order_id, ALICE)
    assert first == again
    assert (again.status, again.cancel_reason, again.version) == (
        "cancelled",
        "customer_request",
        2,
    )
    assert pending.types(order_id) == ["OrderPlaced", "OrderCancelled"]
    assert pending.stock("AB-1").reserved == 0


def test_a_cancelled_order_can_be_neither_shipped_nor_paid(pending: Shop) -> None:
    order_id = pending.place({"AB-1": 2})
    pending.cancel(order_id)
    with pytest.raises(InvalidTransition):
        pending.ship(order_id)
    pending.relay.drain()  # the late OrderPlaced finds a cancelled order: no payment
    assert pending.order(order_id).status == "cancelled"
    assert pending.ledger.charges() == {}


def test_who_cancels_decides_the_reason(pending: Shop) -> None:
    by_customer = pending.place({"AB-1": 1})
    by_admin = pending.place({"AB-1": 1})
    assert pending.cancel(by_customer, ALICE).cancel_reason == "customer_request"
    assert pending.cancel(by_admin).cancel_reason == "admin_request"


def test_only_admins_ship_and_only_owners_cancel(pending: Shop) -> None:
    order_id = pending.place({"AB-1": 1}, ALICE)
    with pytest.raises(PermissionDenied):
        pending.ship(order_id, ALICE)
    with pytest.raises(NotFound):
        pending.cancel(order_id, BOB)
    assert pending.order(order_id).status == "pending_payment"


def test_cancel_honours_the_expected_version(pending: Shop) -> None:
    order_id = pending.place({"AB-1": 1})
    with pytest.raises(VersionMismatch):
        pending.cancel(order_id, expected_version=7)
    assert pending.order(order_id).status == "pending_payment"
    assert pending.cancel(order_id, expected_version=1).status == "cancelled"


def test_unknown_orders_are_not_found(shop: Shop) -> None:
    with pytest.raises(NotFound):
        shop.cancel("no-such-order")
    with pytest.raises(NotFound):
        shop.ship("no-such-order")
    with pytest.raises(NotFound):
        shop.order("no-such-order")
