"""Event handlers: the saga and notifications. Each is idempotent by event id.

A handler runs in its own unit of work, checks the inbox for the event id,
does its effect, records the id and commits, so a redelivered event has no
second effect. A transient failure raises and the delivery adapter retries.
The events a handler causes carry the handled event's correlation id: the delivery
adapter sets it around the run (core/ports/correlation.py).

Batches: every handler also takes a list of deliveries (`handle_batch`) and
handles them in one unit of work (the payment handlers: one for the intents,
one for the outcomes). A batch is all or nothing, except that the payment
handlers report per-event gateway failures with `BatchFailed` after recording
the others; delivery adapters then retry the failed events one by one, so a
poison event is isolated and the rest of its batch commits once.

The payment gateway is a remote system and is never called while a unit of
work is open: the intent is recorded (a `pending` payment) and committed, the
gateway is called with the order id as idempotency key, and the outcome is
recorded in a second unit of work. A crash between the steps repeats the call
under the same key, which the gateway answers with its first decision.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from core.domain.events import EVENT_TYPES, EventEnvelope, OrderCancelled, OrderPlaced
from core.domain.money import Money
from core.domain.orders import CancelReason, Order, OrderStatus
from core.domain.payments import Payment, PaymentStatus
from core.ports.errors import DependencyUnavailable
from core.ports.messaging import BatchFailed as BatchFailed
from core.ports.messaging import EventHandler as EventHandler
from core.ports.notifications import Notification, Notifier
from core.ports.payments import ChargeResult, ChargeStatus, PaymentGateway, RefundResult
from core.ports.system import Clock
from core.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from core.use_cases.reservations import release_reservations
from core.use_cases.support import with_retries

WEBHOOK_FANOUT = "webhooks.fanout"


class RefundNotConfirmed(Exception):
    """The gateway did not confirm a refund of captured money: retried, never recorded."""


def _order_id(envelope: EventEnvelope) -> str:
    return str(envelope.payload.get("order_id", ""))


def _unique(envelopes: Sequence[EventEnvelope]) -> list[EventEnvelope]:
    """A redelivered duplicate in the same batch is handled once."""
    seen: set[str] = set()
    unique = []
    for envelope in envelopes:
        if envelope.event_id not in seen:
            seen.add(envelope.event_id)
            unique.append(envelope)
    return unique


class _InboxHandler:
    name = ""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, envelope: EventEnvelope) -> None:
        self.handle_batch([envelope])

    def handle_batch(self, envelopes: Sequence[EventEnvelope]) -> None:
        batch = _unique(envelopes)
        if not batch:
            return

        def attempt() -> None:
            with self._uow() as uow:
                done = uow.inbox.seen_many(self.name, [e.event_id for e in batch])
                todo = [e for e in batch if e.event_id not in done]
                for envelope in todo:
                    self._handle(uow, envelope)
                uow.inbox.add_many(self.name, [e.event_id for e in todo])
                uow.commit()

        with_retries(attempt)

    def _handle(self, uow: UnitOfWork, envelope: EventEnvelope) -> None:
        raise NotImplementedError


class _Kind(enum.Enum):
    CHARGE = "charge"
    REFUND = "refund"


@dataclass(frozen=True)
class _Call:
    """A gateway call decided inside a unit of work, made after it closed."""

    envelope: EventEnvelope
    order_id: str
    kind: _Kind
    amount: Money | None = None


_Result = ChargeResult | RefundResult


@dataclass
class _Loaded:
    """A batch's orders and payments, read with one query each (locked, in id order)."""

    orders: dict[str, Order]
    payments: dict[str, Payment]
    new_payments: list[Payment] = field(default_factory=list)
    changed_orders: dict[str, Order] = field(default_factory=dict)
    changed_payments: dict[str, Payment] = field(default_factory=dict)

    def add_payment(self, payment: Payment) -> None:
        self.payments[payment.order_id] = payment
        self.new_payments.append(payment)

    def save(self, uow: UnitOfWork) -> None:
        """Write the batch's changes: one statement per kind on SQL."""
        uow.payments.add_many(self.new_payments)
        new = {id(p) for p in self.new_payments}
        changed = [p for p in self.changed_payments.values() if id(p) not in new]
        uow.payments.save_many(changed)
        uow.orders.save_many(list(self.changed_orders.values()))

    @staticmethod
    def of(uow: UnitOfWork, order_ids: list[str], with_orders: bool) -> _Loaded:
        ids = sorted(set(order_ids))
        orders = uow.orders.get_many(ids) if with_orders and ids else {}
        return _Loaded(orders, uow.payments.get_many(ids) if ids else {})


class _GatewayHandler:
    """Plan in one unit of work, call the gateway with none open, record in another.

    `_plan` returns the call an event needs (None: nothing to do, the event is
    done). `_record` applies a call's result and may ask for a follow-up call
    (a charge captured for an order cancelled meanwhile is refunded).
    """

    name = ""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        gateway: PaymentGateway,
        clock: Clock,
        concurrency: int = 32,
    ) -> None:
        self._uow = uow
        self._gateway = gateway
        self._clock = clock
        self._concurrency = concurrency
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def __call__(self, envelope: EventEnvelope) -> None:
        try:
            self.handle_batch([envelope])
        except BatchFailed as failed:
            raise next(iter(failed.failures.values())) from None

    def handle_batch(self, envelopes: Sequence[EventEnvelope]) -> None:
        batch = _unique(envelopes)
        if not batch:
            return
        calls = with_retries(lambda: self._planned(batch))
        failures: dict[str, Exception] = {}
        unavailable: DependencyUnavailable | None = None
        while calls:
            answered: list[tuple[_Call, _Result]] = []
            for call, outcome in zip(calls, self._call_all(calls), strict=True):
                if isinstance(outcome, DependencyUnavailable):
                    unavailable = outcome
                elif isinstance(outcome, Exception):
                    failures[call.envelope.event_id] = outcome
                else:
                    answered.append((call, outcome))
            recorded = self._record_all(answered)
            calls = []
            for call, next_step in recorded:
                if isinstance(next_step, Exception):
                    failures[call.envelope.event_id] = next_step
                elif next_step is not None:
                    calls.append(next_step)
        if unavailable is not None:
            raise unavailable  # the rest waits for the gateway; nothing burns an attempt
        if failures:
            raise BatchFailed(failures)

    def _record_all(
        self, answered: list[tuple[_Call, _Result]]
    ) -> list[tuple[_Call, _Call | Exception | None]]:
        return with_retries(lambda: self._recorded(answered))

    def _planned(self, batch: list[EventEnvelope]) -> list[_Call]:
        calls = []
        with self._uow() as uow:
            done = uow.inbox.seen_many(self.name, [e.event_id for e in batch])
            # Order ids in sorted order: concurrent batches lock rows in the same order.
            todo = sorted((e for e in batch if e.event_id not in done), key=_order_id)
            loaded = _Loaded.of(uow, [_order_id(e) for e in todo], self.needs_orders)
            finished = []
            for envelope in todo:
                call = self._plan(uow, envelope, loaded)
                if call is None:
                    finished.append(envelope.event_id)
                else:
                    calls.append(call)
            loaded.save(uow)
            uow.inbox.add_many(self.name, finished)
            uow.commit()
        return calls

    def _recorded(
        self, answered: list[tuple[_Call, _Result]]
    ) -> list[tuple[_Call, _Call | Exception | None]]:
        if not answered:
            return []
        steps: list[tuple[_Call, _Call | Exception | None]] = []
        with self._uow() as uow:
            # A concurrent delivery of the same event may have recorded it meanwhile.
            done = uow.inbox.seen_many(self.name, [c.envelope.event_id for c, _ in answered])
            todo = sorted(
                ((c, r) for c, r in answered if c.envelope.event_id not in done),
                key=lambda answer: answer[0].order_id,
            )
            loaded = _Loaded.of(uow, [c.order_id for c, _ in todo], self.needs_orders)
            finished = []
            for call, result in todo:
                try:
                    next_step = self._record(uow, call, result, loaded)
                except RefundNotConfirmed as exc:  # raised before any change
                    steps.append((call, exc))
                    continue
                if next_step is None:
                    finished.append(call.envelope.event_id)
                steps.append((call, next_step))
            loaded.save(uow)
            uow.inbox.add_many(self.name, finished)
            uow.commit()
        return steps

    def _call_all(self, calls: list[_Call]) -> list[_Result | Exception]:
        if len(calls) == 1 or self._concurrency <= 1:
            return [self._call(call) for call in calls]
        return list(self._executor().map(self._call, calls))

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self._concurrency, thread_name_prefix=f"orderly-{self.name}"
                )
            return self._pool

    def _call(self, call: _Call) -> _Result | Exception:
        try:
            if call.kind is _Kind.CHARGE:
                assert call.amount is not None
                return self._gateway.charge(call.order_id, call.amount)
            return self._gateway.refund(call.order_id)
        except Exception as exc:
            return exc

    needs_orders = True

    def _plan(self, uow: UnitOfWork, envelope: EventEnvelope, loaded: _Loaded) -> _Call | None:
        raise NotImplementedError

    def _record(
        self, uow: UnitOfWork, call: _Call, result: _Result, loaded: _Loaded
    ) -> _Call | None:
        raise NotImplementedError

    def _record_refund(
        self,
        uow: UnitOfWork,
        call: _Call,
        result: RefundResult,
        loaded: _Loaded,
        void_if_uncaptured: bool,
    ) -> None:
        payment = loaded.payments.get(call.order_id)
        if payment is None or payment.settled:
            return
        if result.refunded:
            payment.mark_refunded(result.refund_id, self._clock.now())
        elif payment.status is PaymentStatus.CAPTURED:
            raise RefundNotConfirmed(
                f"the gateway did not confirm the refund of order {call.order_id}"
            )
        elif void_if_uncaptured:
            payment.void()  # nothing was captured under the key: the intent is over
        else:
            return  # pending: the charge handler refunds if its capture lands
        loaded.changed_payments[payment.order_id] = payment


class ChargePayment(_GatewayHandler):
    """On OrderPlaced: charge the gateway (key = order id); paid, or cancelled if declined."""

    name = "payments.charge"

    def _plan(self, uow: UnitOfWork, envelope: EventEnvelope, loaded: _Loaded) -> _Call | None:
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
            return _Call(envelope, order.id, _Kind.CHARGE, amount)
        if order.status is OrderStatus.CANCELLED and payment is not None and not payment.settled:
            # Cancelled (timeout, customer) after an earlier attempt of ours recorded its
            # intent: whatever it captured is given back.
            return _Call(envelope, order.id, _Kind.REFUND)
        return None

    def _record(
        self, uow: UnitOfWork, call: _Call, result: _Result, loaded: _Loaded
    ) -> _Call | None:
        if isinstance(result, RefundResult):
            self._record_refund(uow, call, result, loaded, void_if_uncaptured=True)
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
                    return _Call(call.envelope, order.id, _Kind.REFUND)
            elif payment.status is PaymentStatus.PENDING:
                payment.decline(result.charge_id)
                loaded.changed_payments[payment.order_id] = payment
        return None


class RefundPayment(_GatewayHandler):
    """On OrderCancelled: refund a captured payment, once, when the gateway confirms it."""

    name = "payments.refund"
    needs_orders = False

    def _plan(self, uow: UnitOfWork, envelope: EventEnvelope, loaded: _Loaded) -> _Call | None:
        event = envelope.to_event()
        assert isinstance(event, OrderCancelled)
        payment = loaded.payments.get(event.order_id)
        if payment is None or payment.settled:
            return None
        return _Call(envelope, event.order_id, _Kind.REFUND)

    def _record(
        self, uow: UnitOfWork, call: _Call, result: _Result, loaded: _Loaded
    ) -> _Call | None:
        assert isinstance(result, RefundResult)
        self._record_refund(uow, call, result, loaded, void_if_uncaptured=False)
        return None


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
    for event_type in _NOTIFICATIONS:
        notify = NotifyCustomer(uow, notifier, event_type)
        handlers.append(EventHandler(notify.name, event_type, notify, notify.handle_batch))
    if webhooks is not None:
        batch = getattr(webhooks, "handle_batch", None)
        wanted = getattr(webhooks, "wanted", None)  # routes only what a subscription wants
        for event_type in EVENT_TYPES:
            handlers.append(EventHandler(WEBHOOK_FANOUT, event_type, webhooks, batch, wanted))
    return handlers
