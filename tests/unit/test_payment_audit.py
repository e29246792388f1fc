"""Issue 10: the payment audit counts real gateway calls, so it can fail.

The audit (tests/payments_ledger.py, used by the delivery contract, the property
test and the messaging fault tests) reads one ledger row per gateway call. These
tests run the saga with a ledger store that forgets its decisions, as the old
bounded in-process ledger did past its capacity: a redelivered charge then
captures the money a second time, and the audit must say so.
"""

from __future__ import annotations

import pytest

from adapters.payments.ledger import DECIDING, LedgerCall, MemoryLedger
from adapters.payments.simulated import SimulatedGateway
from tests.payments_ledger import OrderFacts, assert_payments_audited, payment_problems
from tests.unit.conftest import MakeShop
from tests.unit.shop import Shop


class ForgetfulLedger(MemoryLedger):
    """Records every call but never replays an earlier decision: each call decides anew."""

    def decide(
        self, kind: str, key: str, amount: int, currency: str, outcome: str, reference: str
    ) -> LedgerCall:
        self.append(kind, key, amount, currency, outcome)
        return LedgerCall(0, kind, key, amount, currency, reference, outcome)

    def decision(self, kind: str, key: str) -> LedgerCall | None:
        """The latest decision, for a refund to find the capture."""
        found = [
            c for c in self.calls() if (c.kind, c.key) == (kind, key) and c.outcome in DECIDING
        ]
        return found[-1] if found else None


def _facts(shop: Shop, *orders: str) -> dict[str, OrderFacts]:
    views = {o: shop.order(o) for o in orders}
    return {o: OrderFacts(v.status, v.total, v.cancel_reason) for o, v in views.items()}


def _charged_then_redelivered(make_shop: MakeShop, ledger: MemoryLedger) -> tuple[Shop, str]:
    """The worker captured, then died before recording the outcome; the redelivered
    OrderPlaced charges the order again under the same key."""
    shop = make_shop(gateway=SimulatedGateway(ledger), ledger=ledger, deliver=False)
    shop.product("AB-1", price=400, on_hand=5)
    order_id = shop.place({"AB-1": 1})
    shop.capture_with_outcome_lost(order_id, 400)
    shop.start_delivery()
    shop.relay.drain()
    assert shop.order(order_id).status == "paid"
    return shop, order_id


def test_a_redelivered_charge_absorbed_by_the_idempotency_key_passes_the_audit(
    make_shop: MakeShop,
) -> None:
    shop, order_id = _charged_then_redelivered(make_shop, MemoryLedger())
    calls = shop.ledger.calls()
    assert [c.outcome for c in calls] == ["captured", "replayed"]  # two real calls
    assert_payments_audited(calls, _facts(shop, order_id))


def test_an_order_whose_money_is_captured_twice_fails_the_audit(make_shop: MakeShop) -> None:
    shop, order_id = _charged_then_redelivered(make_shop, ForgetfulLedger())
    calls = shop.ledger.calls()
    assert [c.outcome for c in calls] == ["captured", "captured"]
    assert shop.ledger.charges() == {order_id: 2}
    assert payment_problems(calls, _facts(shop, order_id)) == [
        f"{order_id}: money captured 2 times",
        f"{order_id}: 2 charge decisions",
    ]
    with pytest.raises(AssertionError, match="money captured 2 times"):
        assert_payments_audited(calls, _facts(shop, order_id))


def test_a_cancelled_order_refunded_twice_fails_the_audit(make_shop: MakeShop) -> None:
    ledger = ForgetfulLedger()
    shop = make_shop(gateway=SimulatedGateway(ledger), ledger=ledger)
    shop.product("AB-1", price=300, on_hand=5)
    order_id = shop.place({"AB-1": 1})
    shop.cancel(order_id)
    shop.gateway.refund(order_id)  # a repeat that the gateway should have replayed
    problems = payment_problems(shop.ledger.calls(), _facts(shop, order_id))
    assert problems == [
        f"{order_id}: refunded 2 times",
        f"{order_id}: cancelled with 1 captures, 2 refunds",
    ]


def test_a_refund_without_a_capture_before_it_fails_the_audit() -> None:
    ledger = MemoryLedger()
    ledger.decide("refund", "o-1", 300, "EUR", "refunded", "re_1")  # nothing was captured
    ledger.decide("charge", "o-1", 300, "EUR", "captured", "ch_1")
    ledger.decide("charge", "o-2", 500, "EUR", "captured", "ch_2")
    ledger.decide("refund", "o-2", 500, "EUR", "refunded", "re_2")
    facts = {"o-1": OrderFacts("cancelled", 300, "admin_request")}
    facts["o-2"] = OrderFacts("cancelled", 500, "admin_request")
    assert payment_problems(ledger.calls(), facts) == [
        "o-1: refund 1 without a matching capture before it"
    ]


def test_paid_declined_and_unknown_orders_are_checked_against_the_calls() -> None:
    ledger = MemoryLedger()
    ledger.decide("charge", "paid", 100, "EUR", "captured", "ch_1")
    ledger.decide("charge", "wrong-amount", 90, "EUR", "captured", "ch_2")
    ledger.decide("charge", "declined", 100, "EUR", "captured", "ch_3")
    ledger.decide("charge", "stranger", 100, "EUR", "captured", "ch_4")
    facts = {
        "paid": OrderFacts("paid", 100),
        "wrong-amount": OrderFacts("shipped", 100),
        "declined": OrderFacts("cancelled", 100, "payment_declined"),
        "never-charged": OrderFacts("paid", 100),
    }
    assert payment_problems(ledger.calls(), facts) == [
        "gateway called under an unknown key stranger",
        "wrong-amount: captured 90, the order's total is 100",
        "declined: declined with 0 declines, 1 captures, 0 refunds",
        "never-charged: paid with 0 captures, 0 refunds",
    ]
