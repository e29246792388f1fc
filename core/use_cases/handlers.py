"""Event handlers: the saga and notifications. Each is idempotent by event id.

A handler runs in its own unit of work, checks the inbox for the event id,
does its effect, records the id and commits, so a redelivered event has no
second effect. A transient failure raises and the delivery adapter retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.domain.events import EVENT_TYPES, EventEnvelope, OrderCancelled, OrderPlaced
from core.domain.money import Money
from core.domain.orders import CancelReason, OrderStatus
from core.domain.payments import Payment, PaymentStatus
from core.ports.notifications import Notification, Notifier
from core.ports.payments import ChargeStatus, PaymentGateway
from core.ports.system import Clock
from core.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from core.use_cases.ordering import release_reservations
from core.use_cases.support import with_retries

WEBHOOK_FANOUT = "webhooks.fanout"


@dataclass(frozen=True)
class EventHandler:
    """A named subscriber: `name` is stable (it names the inbox rows and the queue)."""

    name: str
    event_type: str
    handle: Callable[[EventEnvelope], None]


class _InboxHandler:
    name = ""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, envelope: EventEnvelope) -> None:
        def attempt() -> None:
            with self._uow(envelope.correlation_id) as uow:
                if uow.inbox.seen(self.name, envelope.event_id):
                    return
                self._handle(uow, envelope)
                uow.inbox.add(self.name, envelope.event_id)
                uow.commit()

        with_retries(attempt)

    def _handle(self, uow: UnitOfWork, envelope: EventEnvelope) -> None:
        raise NotImplementedError


class _GatewayHandler(_InboxHandler):
    def __init__(self, uow: UnitOfWorkFactory, gateway: PaymentGateway, clock: Clock) -> None:
        super().__init__(uow)
        self._gateway = gateway
        self._clock = clock


class ChargePayment(_GatewayHandler):
    """On OrderPlaced: charge the gateway (key = order id); paid, or cancelled if declined."""

    name = "payments.charge"

    def _handle(self, uow: UnitOfWork, envelope: EventEnvelope) -> None:
        event = envelope.to_event()
        assert isinstance(event, OrderPlaced)
        order = uow.orders.get(event.order_id)
        if order is None:
            return
        if order.status is not OrderStatus.PENDING_PAYMENT:
            # Cancelled (timeout, customer) before we charged. If an earlier attempt of
            # ours captured money and then lost its commit, give that money back.
            if uow.payments.get(order.id) is None:
                self._gateway.refund(order.id)
            return
        now = self._clock.now()
        result = self._gateway.charge(order.id, Money(order.total.amount, order.currency))
        if result.status is ChargeStatus.CAPTURED:
            uow.payments.add(
                Payment(
                    order_id=order.id,
                    amount=order.total.amount,
                    currency=order.currency,
                    charge_id=result.charge_id,
                    status=PaymentStatus.CAPTURED,
                    created_at=now,
                )
            )
            order.mark_paid(now)
        else:
            order.cancel(CancelReason.PAYMENT_DECLINED, now)
            release_reservations(uow, order)
        uow.orders.save(order)


class RefundPayment(_GatewayHandler):
    """On OrderCancelled: refund a captured payment, once."""

    name = "payments.refund"

    def _handle(self, uow: UnitOfWork, envelope: EventEnvelope) -> None:
        event = envelope.to_event()
        assert isinstance(event, OrderCancelled)
        payment = uow.payments.get(event.order_id)
        if payment is None or not payment.refundable:
            return
        result = self._gateway.refund(event.order_id)
        payment.mark_refunded(result.refund_id, self._clock.now())
        uow.payments.save(payment)


_NOTIFICATIONS = {
    "OrderPaid": ("notifications.order_paid", "order_paid"),
    "OrderCancelled": ("notifications.order_cancelled", "order_cancelled"),
    "OrderShipped": ("notifications.order_shipped", "order_shipped"),
}


class NotifyCustomer(_InboxHandler):
    """On OrderPaid, OrderCancelled, OrderShipped: tell the customer, once per event."""

    def __init__(self, uow: UnitOfWorkFactory, notifier: Notifier, event_type: str) -> None:
        super().__init__(uow)
        self.name, self._kind = _NOTIFICATIONS[event_type]
        self._notifier = notifier

    def _handle(self, uow: UnitOfWork, envelope: EventEnvelope) -> None:
        payload = envelope.payload
        self._notifier.send(
            Notification(
                kind=self._kind,
                order_id=str(payload["order_id"]),
                customer_id=str(payload["customer_id"]),
                event_id=envelope.event_id,
                detail=str(payload.get("reason", "")),
            )
        )


def build_handlers(
    uow: UnitOfWorkFactory,
    gateway: PaymentGateway,
    notifier: Notifier,
    clock: Clock,
    webhooks: Callable[[EventEnvelope], None] | None = None,
) -> list[EventHandler]:
    """Every subscriber of the system; delivery adapters route events to them by type.

    `webhooks` (the webhook fan-out) subscribes to every event type under one name,
    so that RabbitMQ gives it one queue bound to every type."""
    charge = ChargePayment(uow, gateway, clock)
    refund = RefundPayment(uow, gateway, clock)
    handlers = [
        EventHandler(charge.name, "OrderPlaced", charge),
        EventHandler(refund.name, "OrderCancelled", refund),
    ]
    for event_type in _NOTIFICATIONS:
        notify = NotifyCustomer(uow, notifier, event_type)
        handlers.append(EventHandler(notify.name, event_type, notify))
    if webhooks is not None:
        for event_type in EVENT_TYPES:
            handlers.append(EventHandler(WEBHOOK_FANOUT, event_type, webhooks))
    return handlers
