"""Every event handler of the system, and the list delivery adapters route events by.

Each handler is idempotent by event id: it runs in its own unit of work, checks
the inbox for the event id, does its effect, records the id and commits, so a
redelivered event has no second effect (core/use_cases/inbox.py). A transient
failure raises and the delivery adapter retries. The events a handler causes
carry the handled event's correlation id: the delivery adapter sets it around
the run (core/ports/correlation.py).

Batches: every handler also takes a list of deliveries (`handle_batch`) and
handles them in one unit of work (the payment handlers: one for the intents,
one for the outcomes, core/use_cases/gateway_calls.py). A batch is all or
nothing, except that the payment handlers report per-event gateway failures
with `BatchFailed` after recording the others; delivery adapters then retry the
failed events one by one, so a poison event is isolated and the rest of its
batch commits once.

The handlers: the payment saga (core/use_cases/payments.py), the customer
notifications (core/use_cases/notifications.py) and the webhook fan-out
(core/use_cases/webhook_delivery.py).
"""

from __future__ import annotations

from collections.abc import Callable

from core.domain.events import EVENT_TYPES, EventEnvelope
from core.ports.messaging import EventHandler
from core.ports.notifications import Notifier
from core.ports.payments import PaymentGateway
from core.ports.system import Clock
from core.ports.unit_of_work import UnitOfWorkFactory
from core.use_cases.notifications import NOTIFICATIONS, NotifyCustomer
from core.use_cases.payments import ChargePayment, RefundPayment

WEBHOOK_FANOUT = "webhooks.fanout"


def build_handlers(
    uow: UnitOfWorkFactory,
    gateway: PaymentGateway,
    notifier: Notifier,
    clock: Clock,
    webhooks: Callable[[EventEnvelope], None] | None = None,
    gateway_concurrency: int = 32,
) -> list[EventHandler]:
    """Every subscriber of the system; delivery adapters route events to them by type.

    `webhooks` (the webhook fan-out) subscribes to every event type under one name,
    so that RabbitMQ gives it one queue bound to every type."""
    charge = ChargePayment(uow, gateway, clock, gateway_concurrency)
    refund = RefundPayment(uow, gateway, clock, gateway_concurrency)
    handlers = [
        EventHandler(charge.name, "OrderPlaced", charge, charge.handle_batch),
        EventHandler(refund.name, "OrderCancelled", refund, refund.handle_batch),
    ]
    for event_type in NOTIFICATIONS:
        notify = NotifyCustomer(uow, notifier, event_type)
        handlers.append(EventHandler(notify.name, event_type, notify, notify.handle_batch))
    if webhooks is not None:
        batch = getattr(webhooks, "handle_batch", None)
        wanted = getattr(webhooks, "wanted", None)  # routes only what a subscription wants
        for event_type in EVENT_TYPES:
            handlers.append(EventHandler(WEBHOOK_FANOUT, event_type, webhooks, batch, wanted))
    return handlers
