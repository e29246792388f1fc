"""The whole order saga on SQL storage: the handlers' units of work, inbox and payments.

Delivery is the synchronous in-process relay over the SQL outbox, so each step
completes before the call returns; redelivering every event afterwards has no
second effect (the inbox remembers what each handler processed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.sql.tables import processed_events
from adapters.system import FixedClock
from core.domain.orders import RequestedLine
from core.domain.principals import Role
from core.use_cases.ordering import CancelOrderCommand, PlaceOrderCommand, ShipOrderCommand
from core.use_cases.support import Actor
from entrypoints.container import Container
from tests.integration.sql_shop import (
    HOT,
    PLENTY,
    SQL_BACKENDS,
    database_url_for,
    sql_container,
    stock_shop,
)
from tests.payments_ledger import LedgerReader
from tests.sent_notifications import SentNotifications

ADMIN = Actor("admin", Role.ADMIN)


@pytest.fixture(params=SQL_BACKENDS)
def shop(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Container]:
    with sql_container(database_url_for(request, tmp_path), clock) as container:
        container.commit_hooks().subscribe(container.sync_relay().on_commit)
        stock_shop(container, 20)
        yield container


def test_orders_are_paid_shipped_cancelled_and_refunded_exactly_once(
    shop: Container, sent_notifications: SentNotifications
) -> None:
    place = shop.place_order()
    shipped = place(PlaceOrderCommand("alice", [RequestedLine(HOT, 2)])).order
    refunded = place(PlaceOrderCommand("bob", [RequestedLine(HOT, 1), RequestedLine(PLENTY, 3)]))
    view = shop.queries().get_order(shipped.id)
    assert view is not None and view.status == "paid"

    shop.ship_order()(ShipOrderCommand(shipped.id, ADMIN))
    shop.cancel_order()(CancelOrderCommand(refunded.order.id, ADMIN))

    stock = shop.queries().get_stock(HOT)
    assert stock is not None and (stock.on_hand, stock.reserved) == (18, 0)
    events = [e.type for e in shop.queries().order_events(refunded.order.id)]
    assert events == ["OrderPlaced", "OrderPaid", "OrderCancelled"]
    assert shop.queries().outbox_status().backlog == 0
    # No ledger path: the gateway of a SQL deployment keeps its ledger in a temporary file.
    ledger = LedgerReader(shop.payments_ledger())
    assert ledger.charges() == {shipped.id: 1, refunded.order.id: 1}
    assert ledger.refunds() == {refunded.order.id: 1}
    with shop.uow_factory()() as uow:
        payment = uow.payments.get(refunded.order.id)
    assert payment is not None and payment.status.value == "refunded"
    notified = [(n.kind, n.order_id) for n in sent_notifications.sent]
    assert sorted(notified) == sorted(
        [
            ("order_paid", shipped.id),
            ("order_shipped", shipped.id),
            ("order_paid", refunded.order.id),
            ("order_cancelled", refunded.order.id),
        ]
    )

    # Every event delivered again: no second charge, refund or notification.
    with shop.database().read() as conn:
        processed = conn.execute(select(func.count()).select_from(processed_events)).scalar()
    orders = (shipped.id, refunded.order.id)
    everything = [e for order in orders for e in shop.queries().order_events(order)]
    shop.dispatcher().deliver(everything)
    assert ledger.charges() == {shipped.id: 1, refunded.order.id: 1}
    assert ledger.refunds() == {refunded.order.id: 1}
    assert len(sent_notifications.sent) == len(notified)
    with shop.database().read() as conn:
        again = conn.execute(select(func.count()).select_from(processed_events)).scalar()
    assert again == processed
