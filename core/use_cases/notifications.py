"""Telling the customer: on OrderPaid, OrderCancelled and OrderShipped, once per event."""

from __future__ import annotations

from core.domain.events import EventEnvelope
from core.ports.notifications import Notification, Notifier
from core.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from core.use_cases.inbox import InboxHandler

# Event type -> (handler name, as recorded in the inbox; notification kind).
NOTIFICATIONS = {
    "OrderPaid": ("notifications.order_paid", "order_paid"),
    "OrderCancelled": ("notifications.order_cancelled", "order_cancelled"),
    "OrderShipped": ("notifications.order_shipped", "order_shipped"),
}


class NotifyCustomer(InboxHandler):
    """On OrderPaid, OrderCancelled, OrderShipped: tell the customer, once per event."""

    def __init__(self, uow: UnitOfWorkFactory, notifier: Notifier, event_type: str) -> None:
        super().__init__(uow)
        self.name, self._kind = NOTIFICATIONS[event_type]
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
