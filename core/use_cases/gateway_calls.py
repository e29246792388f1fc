"""Handlers that call the payment gateway: plan, call with no unit of work open, record.

The payment gateway is a remote system and is never called while a unit of
work is open (docs/decisions/0007-gateway-outside-transactions.md): the intent
is recorded (a `pending` payment) and committed, the gateway is called with the
order id as idempotency key, and the outcome is recorded in a second unit of
work. A crash between the steps repeats the call under the same key, which the
gateway answers with its first decision.

A batch takes one unit of work for the intents and one for the outcomes. Gateway
failures are per event: the others are recorded and `BatchFailed` names the
failed ones, which delivery adapters then retry one by one.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from core.domain.events import EventEnvelope
from core.domain.money import Money
from core.domain.orders import Order
from core.domain.payments import Payment, PaymentStatus
from core.ports.errors import DependencyUnavailable
from core.ports.messaging import BatchFailed
from core.ports.payments import ChargeResult, PaymentGateway, RefundResult
from core.ports.system import Clock
from core.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from core.use_cases.inbox import unique_events
from core.use_cases.support import with_retries

T = TypeVar("T")


class RefundNotConfirmed(Exception):
    """The gateway did not confirm a refund of captured money: retried, never recorded."""


def order_id_of(envelope: EventEnvelope) -> str:
    return str(envelope.payload.get("order_id", ""))


class CallKind(enum.Enum):
    CHARGE = "charge"
    REFUND = "refund"


@dataclass(frozen=True)
class GatewayCall:
    """A gateway call decided inside a unit of work, made after it closed."""

    envelope: EventEnvelope
    order_id: str
    kind: CallKind
    amount: Money | None = None


GatewayResult = ChargeResult | RefundResult
# What recording an answer leads to: a follow-up call, a failure, or nothing (done).
NextStep = GatewayCall | Exception | None


@dataclass
class Loaded:
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
    def of(uow: UnitOfWork, order_ids: list[str], with_orders: bool) -> Loaded:
        ids = sorted(set(order_ids))
        orders = uow.orders.get_many(ids) if with_orders and ids else {}
        return Loaded(orders, uow.payments.get_many(ids) if ids else {})


class GatewayHandler:
    """Plan in one unit of work, call the gateway with none open, record in another.

    `_plan` returns the call an event needs (None: nothing to do, the event is
    done). `_record` applies a call's result and may ask for a follow-up call
    (a charge captured for an order cancelled meanwhile is refunded).
    """

    name = ""
    needs_orders = True

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
        batch = unique_events(envelopes)
        if not batch:
            return
        calls = with_retries(lambda: self._planned(batch))
        failures: dict[str, Exception] = {}
        unavailable: DependencyUnavailable | None = None
        while calls:
            answered: list[tuple[GatewayCall, GatewayResult]] = []
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
        self, answered: list[tuple[GatewayCall, GatewayResult]]
    ) -> list[tuple[GatewayCall, NextStep]]:
        return with_retries(lambda: self._recorded(answered))

    def _in_one_unit(
        self,
        items: Sequence[T],
        envelope_of: Callable[[T], EventEnvelope],
        order_of: Callable[[T], str],
        step: Callable[[UnitOfWork, T, Loaded], bool],
        before: Callable[[UnitOfWork, list[T]], None] | None = None,
    ) -> None:
        """The frame both passes share: in one unit of work, `step` each item whose event
        this handler has not recorded yet (True: its event is done), then save the
        batch's changes and record the done events in the inbox."""
        with self._uow() as uow:
            # A concurrent delivery of the same event may have recorded it meanwhile.
            done = uow.inbox.seen_many(self.name, [envelope_of(i).event_id for i in items])
            # Order ids in sorted order: concurrent batches lock rows in the same order.
            todo = sorted((i for i in items if envelope_of(i).event_id not in done), key=order_of)
            loaded = Loaded.of(uow, [order_of(i) for i in todo], self.needs_orders)
            if before is not None:
                before(uow, todo)
            finished = [envelope_of(i).event_id for i in todo if step(uow, i, loaded)]
            loaded.save(uow)
            uow.inbox.add_many(self.name, finished)
            uow.commit()

    def _planned(self, batch: list[EventEnvelope]) -> list[GatewayCall]:
        calls: list[GatewayCall] = []

        def plan(uow: UnitOfWork, envelope: EventEnvelope, loaded: Loaded) -> bool:
            call = self._plan(uow, envelope, loaded)
            if call is not None:
                calls.append(call)
            return call is None

        self._in_one_unit(batch, lambda envelope: envelope, order_id_of, plan)
        return calls

    def _recorded(
        self, answered: list[tuple[GatewayCall, GatewayResult]]
    ) -> list[tuple[GatewayCall, NextStep]]:
        if not answered:
            return []
        steps: list[tuple[GatewayCall, NextStep]] = []

        def record(
            uow: UnitOfWork, answer: tuple[GatewayCall, GatewayResult], loaded: Loaded
        ) -> bool:
            call, result = answer
            try:
                next_step = self._record(uow, call, result, loaded)
            except RefundNotConfirmed as exc:  # raised before any change
                steps.append((call, exc))
                return False
            steps.append((call, next_step))
            return next_step is None

        self._in_one_unit(
            answered,
            lambda a: a[0].envelope,
            lambda a: a[0].order_id,
            record,
            self._before_record,
        )
        return steps

    def _before_record(
        self, uow: UnitOfWork, answered: list[tuple[GatewayCall, GatewayResult]]
    ) -> None:
        """Take, in the lock order, locks that recording these answers will need (the
        orders are already locked); a subclass says which."""

    def _call_all(self, calls: list[GatewayCall]) -> list[GatewayResult | Exception]:
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

    def _call(self, call: GatewayCall) -> GatewayResult | Exception:
        try:
            if call.kind is CallKind.CHARGE:
                assert call.amount is not None
                return self._gateway.charge(call.order_id, call.amount)
            return self._gateway.refund(call.order_id)
        except Exception as exc:
            return exc

    def _plan(self, uow: UnitOfWork, envelope: EventEnvelope, loaded: Loaded) -> GatewayCall | None:
        raise NotImplementedError

    def _record(
        self, uow: UnitOfWork, call: GatewayCall, result: GatewayResult, loaded: Loaded
    ) -> GatewayCall | None:
        raise NotImplementedError

    def _record_refund(
        self, call: GatewayCall, result: RefundResult, loaded: Loaded, void_if_uncaptured: bool
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
