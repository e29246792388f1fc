"""The order-placement saga: charge, decline, refund, redelivery, retries, timeout,
notifications (docs/domain.md: Payments)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Any

import pytest

from adapters.payments.ledger import MemoryLedger
from adapters.payments.simulated import SimulatedGateway
from core.domain.events import EventEnvelope
from core.domain.money import Money
from core.domain.payments import PaymentStatus
from core.ports.payments import ChargeStatus
from tests.unit.conftest import MakeShop
from tests.unit.shop import ALICE, BOB, FlakyGateway, Shop


def _envelope(shop: Shop, event_type: str, subject: str) -> EventEnvelope:
    (envelope,) = shop.envelopes(lambda e: e.type == event_type and e.subject == subject)
    return envelope


def test_placed_then_paid(shop: Shop) -> None:
    shop.product("AB-1", price=700, on_hand=5)
    order_id = shop.place({"AB-1": 2})
    order = shop.order(order_id)
    assert (order.status, order.version) == ("paid", 2)
    payment = shop.store.payments[order_id]
    assert (payment.amount, payment.currency, payment.status) == (
        1400,
        "EUR",
        PaymentStatus.CAPTURED,
    )
    assert shop.ledger.charges() == {order_id: 1}
    assert shop.types(order_id) == ["OrderPlaced", "OrderPaid"]
    assert shop.stock("AB-1").reserved == 2  # paid orders keep their reservation until shipped
    assert shop.notifications() == [("order_paid", order_id)]


def test_declined_above_the_threshold_cancels_and_releases_stock(make_shop: MakeShop) -> None:
    shop = make_shop(payments_decline_above=1000)
    shop.product("AB-1", price=500, on_hand=10)
    at_limit = shop.place({"AB-1": 2})  # 1000 is not above the threshold
    above = shop.place({"AB-1": 3})  # 1500 is
    assert shop.order(at_limit).status == "paid"
    declined = shop.order(above)
    assert (declined.status, declined.cancel_reason) == ("cancelled", "payment_declined")
    assert shop.stock("AB-1").reserved == 2
    assert shop.store.reservations_on("AB-1") == {at_limit: 2}
    # The intent was recorded before the call, then the gateway's decline on it.
    assert shop.store.payments[above].status is PaymentStatus.DECLINED
    assert shop.ledger.charges() == {at_limit: 1, above: 1}  # each order charged once
    # Asking the gateway again under the same key replays the first answer: declined.
    assert shop.gateway.charge(above, Money(1500, "EUR")).status is ChargeStatus.DECLINED
    assert shop.ledger.charges() == {at_limit: 1, above: 1}
    assert shop.ledger.refunds() == {}
    cancelled = _envelope(shop, "OrderCancelled", above)
    assert (cancelled.payload["reason"], cancelled.payload["was_paid"]) == (
        "payment_declined",
        False,
    )
    assert [(n.kind, n.order_id, n.detail) for n in shop.sent] == [
        ("order_paid", at_limit, ""),
        ("order_cancelled", above, "payment_declined"),
    ]


def test_paid_then_cancelled_is_refunded_exactly_once(shop: Shop) -> None:
    shop.product("AB-1", price=300, on_hand=5)
    order_id = shop.place({"AB-1": 1})
    view = shop.cancel(order_id, ALICE)
    assert (view.status, view.cancel_reason) == ("cancelled", "customer_request")
    assert shop.stock("AB-1").reserved == 0
    payment = shop.store.payments[order_id]
    assert payment.status is PaymentStatus.REFUNDED and payment.refund_id
    assert shop.ledger.refunds() == {order_id: 1}
    refund = [e for e in shop.ledger.decisions() if e.kind == "refund"]
    assert [(e.key, e.amount) for e in refund] == [(order_id, 300)]

    # Cancel again, redeliver the event, even a second distinct OrderCancelled: no new refund.
    shop.cancel(order_id, ALICE)
    cancelled = _envelope(shop, "OrderCancelled", order_id)
    shop.dispatcher.deliver([cancelled])
    for handler in shop.dispatcher.for_type("OrderCancelled"):
        handler.handle(dataclasses.replace(cancelled, event_id="another-event-id"))
    assert shop.ledger.refunds() == {order_id: 1}
    assert shop.store.payments[order_id].refund_id == payment.refund_id


def test_cancelling_an_unpaid_order_charges_and_refunds_nothing(make_shop: MakeShop) -> None:
    shop = make_shop(deliver=False)  # the payment worker has not charged yet
    shop.product("AB-1", on_hand=5)
    order_id = shop.place({"AB-1": 1})
    shop.cancel(order_id, ALICE)
    shop.start_delivery()
    shop.relay.drain()  # OrderPlaced arrives after the cancel
    assert shop.order(order_id).status == "cancelled"
    assert shop.ledger.charges() == {}
    assert shop.ledger.refunds() == {}
    assert order_id not in shop.store.payments


def test_an_event_delivered_twice_has_one_effect(shop: Shop) -> None:
    shop.product("AB-1", on_hand=5)
    order_id = shop.place({"AB-1": 1})
    shop.ship(order_id)
    before = (shop.order(order_id), len(shop.store.outbox), shop.notifications())
    everything = shop.envelopes()
    # Again through the dispatcher, then straight into every handler, then as a broker
    # would hand it over (serialised and parsed back).
    shop.dispatcher.deliver(everything)
    for envelope in everything:
        for handler in shop.dispatcher.for_type(envelope.type):
            handler.handle(envelope)
            handler.handle(EventEnvelope.from_dict(json.loads(json.dumps(envelope.to_dict()))))
    assert (shop.order(order_id), len(shop.store.outbox), shop.notifications()) == before
    assert shop.ledger.charges() == {order_id: 1}
    assert len(shop.store.inbox) == 3  # charge, paid notice, shipped notice


def test_concurrent_redeliveries_charge_once(make_shop: MakeShop) -> None:
    shop = make_shop(deliver=False)
    shop.product("AB-1", on_hand=5)
    order_id = shop.place({"AB-1": 1})
    placed = _envelope(shop, "OrderPlaced", order_id)
    start = threading.Barrier(8)

    def deliver() -> None:
        start.wait()
        shop.dispatcher.deliver([placed])

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert shop.ledger.charges() == {order_id: 1}
    assert shop.types(order_id) == ["OrderPlaced", "OrderPaid"]
    assert shop.order(order_id).version == 2


def test_transient_gateway_failures_are_retried_with_backoff(make_shop: MakeShop) -> None:
    ledger = MemoryLedger()
    flaky = FlakyGateway(SimulatedGateway(ledger), failures=2)
    shop = make_shop(gateway=flaky, ledger=ledger)
    shop.product("AB-1", on_hand=5)
    order_id = shop.place({"AB-1": 1})
    assert shop.order(order_id).status == "paid"
    assert flaky.calls == 3
    assert shop.sleeps == [0.05, 0.1]  # exponential backoff between attempts
    assert shop.ledger.charges() == {order_id: 1}


def test_a_seeded_flaky_gateway_still_charges_and_refunds_each_order_once(
    make_shop: MakeShop,
) -> None:
    ledger = MemoryLedger()
    gateway = SimulatedGateway(ledger, failure_rate=0.4, seed=20260101)
    shop = make_shop(gateway=gateway, ledger=ledger, max_delivery_attempts=40)
    shop.product("AB-1", on_hand=100)
    orders = [shop.place({"AB-1": 1}, ALICE if n % 2 else BOB) for n in range(20)]
    cancelled = orders[::3]
    for order_id in cancelled:
        shop.cancel(order_id)
    assert shop.sleeps, "the seed should have produced some transient failures"
    assert shop.c.outbox_queries().status().backlog == 0
    assert shop.ledger.charges() == {order_id: 1 for order_id in orders}
    assert shop.ledger.refunds() == {order_id: 1 for order_id in cancelled}
    failed = [c for c in shop.ledger.calls() if c.outcome == "failed"]
    assert len(failed) == len(shop.sleeps)  # each retried failure is a recorded call
    statuses = {o: shop.order(o).status for o in orders}
    assert statuses == {o: "cancelled" if o in cancelled else "paid" for o in orders}


def test_a_delivery_failing_every_attempt_is_parked_and_replayed_once_fixed(
    make_shop: MakeShop,
) -> None:
    ledger = MemoryLedger()
    flaky = FlakyGateway(SimulatedGateway(ledger), failures=2)
    shop = make_shop(gateway=flaky, ledger=ledger, max_delivery_attempts=2)
    shop.product("AB-1", on_hand=5)
    order_id = shop.place({"AB-1": 1})  # both attempts fail: the delivery is parked
    other = shop.place({"AB-1": 1})  # and blocks nothing behind it
    assert shop.order(order_id).status == "pending_payment"
    assert shop.order(other).status == "paid"
    assert shop.c.outbox_queries().status().backlog == 0
    dead_letters = shop.c.dead_letters()
    (letter,) = dead_letters.peek()
    assert (letter.queue, letter.attempts) == ("orderly.payments.charge", 2)
    assert "TransientPaymentError" in letter.error
    assert [d.event_id for d in dead_letters.replay()] == [letter.event_id]
    assert shop.order(order_id).status == "paid"
    assert dead_letters.count() == 0
    assert shop.ledger.charges() == {order_id: 1, other: 1}


def test_a_capture_whose_outcome_was_lost_is_given_back(make_shop: MakeShop) -> None:
    """The intent was recorded and the gateway captured, then the worker died before
    recording the outcome, and the order was cancelled meanwhile: the redelivered
    OrderPlaced refunds the capture instead of keeping the money."""
    shop = make_shop(deliver=False)
    shop.product("AB-1", price=400, on_hand=5)
    order_id = shop.place({"AB-1": 1})
    shop.capture_with_outcome_lost(order_id, 400)
    shop.cancel(order_id)
    shop.start_delivery()
    shop.relay.drain()
    assert shop.order(order_id).status == "cancelled"
    assert shop.ledger.charges() == {order_id: 1}
    assert shop.ledger.refunds() == {order_id: 1}
    assert shop.store.payments[order_id].status is PaymentStatus.REFUNDED


def test_an_order_cancelled_before_its_charge_is_never_charged(make_shop: MakeShop) -> None:
    shop = make_shop(deliver=False)
    shop.product("AB-1", price=400, on_hand=5)
    order_id = shop.place({"AB-1": 1})
    shop.cancel(order_id)
    shop.start_delivery()
    shop.relay.drain()
    assert shop.ledger.charge_calls() == {}
    assert shop.ledger.refunds() == {}
    assert order_id not in shop.store.payments


def test_a_pending_order_past_the_timeout_is_cancelled_by_the_sweep(make_shop: MakeShop) -> None:
    shop = make_shop(deliver=False)  # payments are stuck: orders stay pending
    shop.product("AB-1", on_hand=10)
    old = shop.place({"AB-1": 3})
    shop.clock.advance(899)
    young = shop.place({"AB-1": 2})
    assert shop.expire() == 0
    shop.clock.advance(2)
    assert shop.expire() == 1
    view = shop.order(old)
    assert (view.status, view.cancel_reason) == ("cancelled", "payment_timeout")
    assert shop.store.reservations_on("AB-1") == {young: 2}
    assert shop.expire() == 0
    # Delivery resumes: the expired order is never charged, the young one is paid.
    shop.start_delivery()
    shop.relay.drain()
    assert shop.ledger.charges() == {young: 1}
    assert shop.order(young).status == "paid"
    assert [(n.kind, n.order_id, n.detail) for n in shop.sent] == [
        ("order_cancelled", old, "payment_timeout"),
        ("order_paid", young, ""),
    ]


def test_the_timeout_comes_from_the_settings_and_spares_paid_orders(make_shop: MakeShop) -> None:
    shop = make_shop(payment_timeout_seconds=60)
    shop.product("AB-1", on_hand=10)
    paid = shop.place({"AB-1": 1})
    paused = make_shop(payment_timeout_seconds=60, deliver=False)
    paused.product("AB-1", on_hand=10)
    stuck = [paused.place({"AB-1": 1}) for _ in range(5)]
    shop.clock.advance(61)  # one clock for both shops
    assert shop.expire() == 0
    assert shop.order(paid).status == "paid"
    assert paused.c.expire_orders()(batch_size=2) == 5  # several batches
    assert {paused.order(o).cancel_reason for o in stuck} == {"payment_timeout"}
    assert paused.stock("AB-1").reserved == 0


def test_each_notification_is_sent_once(shop: Shop) -> None:
    shop.product("AB-1", on_hand=10)
    shipped = shop.place({"AB-1": 1}, ALICE)
    shop.ship(shipped)
    cancelled = shop.place({"AB-1": 1}, BOB)
    shop.cancel(cancelled, BOB)
    expected = [
        ("order_paid", shipped),
        ("order_shipped", shipped),
        ("order_paid", cancelled),
        ("order_cancelled", cancelled),
    ]
    assert shop.notifications() == expected
    shop.dispatcher.deliver(shop.envelopes())
    shop.dispatcher.deliver(shop.envelopes())
    assert shop.notifications() == expected
    by_id = {e.event_id: e for e in shop.envelopes()}
    for note in shop.sent:
        source = by_id[note.event_id]
        assert source.subject == note.order_id
        assert note.customer_id == source.payload["customer_id"]
    assert [n.customer_id for n in shop.sent] == [ALICE.principal_id] * 2 + [BOB.principal_id] * 2


def test_declines_in_one_batch_lock_the_stock_they_release_in_sku_order(
    make_shop: MakeShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of declined charges releases stock for several orders. Locked order by
    order, the rows came in order-id order, against the SKU order of every placement:
    a deadlock on PostgreSQL (core/use_cases/payments.py). The record pass locks them
    all first, in SKU order."""
    from adapters.memory.repositories import MemoryStockRepository
    from core.use_cases.payments import ChargePayment

    shop = make_shop(payments_decline_above=1000, deliver=False)
    shop.product("ZZ-9", price=2000, on_hand=5)
    shop.product("AA-1", price=2000, on_hand=5)
    first = shop.place({"ZZ-9": 1})
    time.sleep(0.002)  # ids are time-ordered by the millisecond
    second = shop.place({"AA-1": 1})
    assert first < second  # the smaller id holds the larger SKU
    locked: list[str] = []  # each SKU the first time a unit of work asks for it
    real_get_many = MemoryStockRepository.get_many

    def get_many(repo: MemoryStockRepository, keys: Any, lock: bool = True) -> Any:
        locked.extend(sorted(set(keys) - set(locked)))
        return real_get_many(repo, keys, lock)

    monkeypatch.setattr(MemoryStockRepository, "get_many", get_many)
    charge = ChargePayment(shop.c.uow_factory(), shop.gateway, shop.clock, 1)
    charge.handle_batch(
        [_envelope(shop, "OrderPlaced", first), _envelope(shop, "OrderPlaced", second)]
    )
    assert locked == ["AA-1", "ZZ-9"]
    assert shop.order(first).status == shop.order(second).status == "cancelled"
    assert shop.stock("AA-1").reserved == shop.stock("ZZ-9").reserved == 0
