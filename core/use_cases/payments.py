"""The payment saga's handlers: charge on OrderPlaced, refund on OrderCancelled.

Both call the gateway outside any unit of work (core/use_cases/gateway_calls.py),
keyed by the order id, so a repeated call gets the gateway's first decision.
"""

from __future__ import annotations

from core.domain.events import EventEnvelope, OrderCancelled, OrderPlaced
from core.domain.money import Money
from core.domain.orders import CancelReason, OrderStatus
from core.domain.payments import Payment, PaymentStatus
from core.ports.payments import ChargeResult, ChargeStatus, RefundResult
from core.ports.unit_of_work import UnitOfWork
from core.use_cases.gateway_calls import (
    CallKind,
    GatewayCall,
    GatewayHandler,
    GatewayResult,
    Loaded,
)
from core.use_cases.reservations import release_reservations


class ChargePayment(GatewayHandler):
    """On OrderPlaced: charge the gateway (key = order id); paid, or cancelled if declined."""

    name = "payments.charge"

    def _plan(self, uow: UnitOfWork, envelope: EventEnvelope, loaded: Loaded) -> GatewayCall | None:
        event = envelope.to_event()
        assert isinstance(event, OrderPlaced)
        order = loaded.orders.get(event.order_id)
        if order is None:
            return None
        payment = loaded.payments.get(order.id)
        if order.status is OrderStatus.PENDING_PAYMENT:
            if payment is None:
                loaded.add_payment(
                    Payment.intent(order.id, order.total.amount, order.currency, self._clock.now())
                )
            amount = Money(order.total.amount, order.currency)
            return GatewayCall(envelope, order.id, CallKind.CHARGE, amount)
        if order.status is OrderStatus.CANCELLED and payment is not None and not payment.settled:
            # Cancelled (timeout, customer) after an earlier attempt of ours recorded its
            # intent: whatever it captured is given back.
            return GatewayCall(envelope, order.id, CallKind.REFUND)
        return None

    def _before_record(
        self, uow: UnitOfWork, answered: list[tuple[GatewayCall, GatewayResult]]
    ) -> None:
        # A declined charge releases its order's stock. Released order by order, several
        # in one batch locked their stock rows in order-id order, not the SKU order every
        # placement locks them in: a deadlock on PostgreSQL (seen in CI). All the stock
        # they may release is locked here first, in SKU order.
        declined = [
            call.order_id
            for call, result in answered
            if isinstance(result, ChargeResult) and result.status is not ChargeStatus.CAPTURED
        ]
        if len(declined) > 1:
            skus = {sku for order_id in declined for sku in uow.reservations.of_order(order_id)}
            uow.stock.get_many(sorted(skus))

    def _record(
        self, uow: UnitOfWork, call: GatewayCall, result: GatewayResult, loaded: Loaded
    ) -> GatewayCall | None:
        if isinstance(result, RefundResult):
            self._record_refund(call, result, loaded, void_if_uncaptured=True)
            return None
        now = self._clock.now()
        order = loaded.orders.get(call.order_id)
        payment = loaded.payments.get(call.order_id)
        if order is None:
            return None
        if payment is None:  # an intent lost to a restore: record it now
            payment = Payment.intent(order.id, order.total.amount, order.currency, now)
            loaded.add_payment(payment)
        captured = result.status is ChargeStatus.CAPTURED
        if order.status is OrderStatus.PENDING_PAYMENT and payment.status is PaymentStatus.PENDING:
            if captured:
                payment.capture(result.charge_id)
                order.mark_paid(now)
            else:
                payment.decline(result.charge_id)
                order.cancel(CancelReason.PAYMENT_DECLINED, now)
                release_reservations(uow, order)
            loaded.changed_payments[payment.order_id] = payment
            loaded.changed_orders[order.id] = order
            return None
        # The order moved on while we were at the gateway (cancelled meanwhile).
        if payment.status in {PaymentStatus.PENDING, PaymentStatus.VOIDED}:
            if captured:
                payment.capture(result.charge_id)
                loaded.changed_payments[payment.order_id] = payment
                if order.status is OrderStatus.CANCELLED:
                    return GatewayCall(call.envelope, order.id, CallKind.REFUND)
            elif payment.status is PaymentStatus.PENDING:
                payment.decline(result.charge_id)
                loaded.changed_payments[payment.order_id] = payment
        return None


class RefundPayment(GatewayHandler):
    """On OrderCancelled: refund a captured payment, once, when the gateway confirms it."""

    name = "payments.refund"
    needs_orders = False

    def _plan(self, uow: UnitOfWork, envelope: EventEnvelope, loaded: Loaded) -> GatewayCall | None:
        event = envelope.to_event()
        assert isinstance(event, OrderCancelled)
        payment = loaded.payments.get(event.order_id)
        if payment is None or payment.settled:
            return None
        return GatewayCall(envelope, event.order_id, CallKind.REFUND)

    def _record(
        self, uow: UnitOfWork, call: GatewayCall, result: GatewayResult, loaded: Loaded
    ) -> GatewayCall | None:
        assert isinstance(result, RefundResult)
        self._record_refund(call, result, loaded, void_if_uncaptured=False)
        return None
