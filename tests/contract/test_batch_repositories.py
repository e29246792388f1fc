"""The batch methods the event handlers use, on memory, SQLite and PostgreSQL: one query
(or one executemany) for many rows, with the same version checks as one at a time."""

from __future__ import annotations

import pytest

from core.domain.orders import OrderStatus
from core.domain.payments import Payment, PaymentStatus
from core.ports.errors import ConcurrencyConflict
from tests.contract.builders import add_product, place
from tests.contract.conftest import Backend


def _orders(backend: Backend, n: int) -> list[str]:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1", on_hand=100)
    ids = [f"order-{i}" for i in range(n)]
    for order_id in ids:
        place(backend.uow, order_id, {"SKU-1": 1}, now)
    return ids


def test_orders_and_payments_are_read_and_written_in_batches(backend: Backend) -> None:
    ids = _orders(backend, 4)
    now = backend.clock.now()
    with backend.uow() as uow:
        orders = uow.orders.get_many([*ids[:3], "nope"])
        assert sorted(orders) == ids[:3]
        assert [line.sku for line in orders["order-0"].lines] == ["SKU-1"]
        assert uow.payments.get_many(ids) == {}
        intents = [Payment.intent(o, 100, "EUR", now) for o in ids[:3]]
        uow.payments.add_many(intents)
        uow.commit()
    with backend.uow() as uow:
        orders = uow.orders.get_many(ids[:3])
        payments = uow.payments.get_many([*ids, "nope"])
        assert sorted(payments) == ids[:3]
        assert {p.status for p in payments.values()} == {PaymentStatus.PENDING}
        for order_id in ids[:3]:
            payments[order_id].capture(f"ch-{order_id}")
            orders[order_id].mark_paid(now)
        uow.payments.save_many(list(payments.values()))
        uow.orders.save_many(list(orders.values()))
        uow.commit()
    with backend.uow() as uow:
        assert {o.status for o in uow.orders.get_many(ids[:3]).values()} == {OrderStatus.PAID}
        stored = uow.payments.get_many(ids[:3])
        assert {(p.status, p.version) for p in stored.values()} == {(PaymentStatus.CAPTURED, 2)}
        assert stored["order-1"].charge_id == "ch-order-1"
        pending = uow.orders.get("order-3")
        assert pending is not None and pending.status is OrderStatus.PENDING_PAYMENT


def test_a_batch_save_with_a_missing_row_fails_whole(backend: Backend) -> None:
    ids = _orders(backend, 2)
    now = backend.clock.now()
    ghost = Payment.intent("order-1", 100, "EUR", now)  # never stored
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.payments.add_many([Payment.intent("order-0", 100, "EUR", now)])
        orders = uow.orders.get_many(ids)
        for order in orders.values():
            order.mark_paid(now)
        uow.orders.save_many(list(orders.values()))
        uow.payments.save_many([ghost])
        uow.commit()
    with backend.uow() as uow:
        assert uow.payments.get_many(ids) == {}
        statuses = {v.status for v in uow.orders.get_many(ids).values()}
    assert statuses == {OrderStatus.PENDING_PAYMENT}


def test_the_inbox_checks_and_records_many_events_at_once(backend: Backend) -> None:
    with backend.uow() as uow:
        assert uow.inbox.seen_many("h", ["e1", "e2"]) == set()
        uow.inbox.add_many("h", ["e1", "e2"])
        uow.inbox.add_many("h", [])
        uow.commit()
    with backend.uow() as uow:
        assert uow.inbox.seen_many("h", ["e1", "e2", "e3"]) == {"e1", "e2"}
        assert uow.inbox.seen_many("other", ["e1"]) == set()
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.inbox.add_many("h", ["e3", "e2"])
        uow.commit()
    with backend.uow() as uow:
        assert uow.inbox.seen_many("h", ["e3"]) == set()  # all or nothing
