"""The payment gateway is never called while a unit of work is open, on memory, SQLite
and PostgreSQL: while a charge is at the gateway, another transaction can cancel
that very order (its row lock, SQLite's write lock, the memory store's lock are
all free). The handler records the intent first and the outcome after, so the
capture of an order cancelled meanwhile is refunded; a refund the gateway did not
confirm is never recorded, and is parked once it fails every attempt.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from dependency_injector import providers

from adapters.messaging.dispatch import HandlerDispatcher
from adapters.payments.ledger import MemoryLedger
from adapters.payments.simulated import SimulatedGateway
from core.domain.events import EventEnvelope
from core.domain.money import Money
from core.domain.orders import RequestedLine
from core.domain.payments import PaymentStatus
from core.domain.principals import Role
from core.ports.payments import ChargeResult, RefundResult
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.ordering import CancelOrderCommand, PlaceOrderCommand
from core.use_cases.support import Actor
from tests.contract.conftest import Backend
from tests.payments_ledger import LedgerReader

ADMIN = Actor("admin-1", Role.ADMIN)
WAIT = 60.0  # a bound on a wait that must not block at all, so a regression fails, not hangs


class CancellingGateway:
    """While a charge is at the gateway, cancel the order from another thread and wait
    for that transaction to commit: it can only if no transaction of the caller holds
    the order (or the database)."""

    def __init__(self, backend: Backend) -> None:
        store = MemoryLedger()
        self.inner = SimulatedGateway(store)
        self.ledger = LedgerReader(store)
        self._backend = backend
        self.cancelled_during_call: list[str] = []
        self.refund_confirms = True

    def charge(self, idempotency_key: str, amount: Money) -> ChargeResult:
        done = threading.Event()
        errors: list[BaseException] = []

        def cancel() -> None:
            try:
                command = CancelOrderCommand(idempotency_key, ADMIN)
                self._backend.container.cancel_order()(command)
            except BaseException as exc:
                errors.append(exc)
            finally:
                done.set()

        threading.Thread(target=cancel, daemon=True).start()
        if not done.wait(WAIT):
            pytest.fail("cancelling the order blocked: the charge runs inside a transaction")
        assert not errors, errors
        self.cancelled_during_call.append(idempotency_key)
        return self.inner.charge(idempotency_key, amount)

    def refund(self, idempotency_key: str) -> RefundResult:
        result = self.inner.refund(idempotency_key)
        if not self.refund_confirms:
            return RefundResult(False, "", 0)
        return result


@pytest.fixture
def gateway(backend: Backend) -> Iterator[CancellingGateway]:
    gateway = CancellingGateway(backend)
    c = backend.container
    c.gateway.override(providers.Object(gateway))
    c.dispatcher.override(
        providers.Singleton(
            HandlerDispatcher,
            c.handlers,
            attempts=3,
            sleep=lambda _: None,
            dead_letters=c.dead_letter_store,
        )
    )
    yield gateway
    c.gateway.reset_override()
    c.dispatcher.reset_override()


def _events(backend: Backend, event_type: str) -> list[EventEnvelope]:
    return [e for batch in backend.committed for e in batch if e.type == event_type]


def _place(backend: Backend) -> str:
    c = backend.container
    c.create_product()(CreateProductCommand("MUG-1", "Mug", 700, True, 10))
    placed = c.place_order()(PlaceOrderCommand("cust-1", [RequestedLine("MUG-1", 1)]))
    return str(placed.order.id)


def _payment_status(backend: Backend, order_id: str) -> PaymentStatus | None:
    with backend.uow() as uow:
        payment = uow.payments.get(order_id)
        return None if payment is None else payment.status


def test_the_charge_runs_with_no_transaction_open_and_a_late_capture_is_refunded(
    backend: Backend, gateway: CancellingGateway
) -> None:
    order_id = _place(backend)
    dispatcher: HandlerDispatcher = backend.container.dispatcher()

    dispatcher.deliver(_events(backend, "OrderPlaced"))

    assert gateway.cancelled_during_call == [order_id]
    view = backend.queries.get_order(order_id)
    assert view is not None and view.status == "cancelled"
    # Captured at the gateway after the cancel: given back, once, and recorded so.
    assert gateway.ledger.charges() == {order_id: 1}
    assert gateway.ledger.refunds() == {order_id: 1}
    assert _payment_status(backend, order_id) is PaymentStatus.REFUNDED

    # The cancellation's own refund handler finds nothing left to do.
    dispatcher.deliver(_events(backend, "OrderCancelled"))
    assert gateway.ledger.refunds() == {order_id: 1}
    assert backend.container.dead_letters().count() == 0


def test_a_refund_the_gateway_does_not_confirm_is_never_recorded(
    backend: Backend, gateway: CancellingGateway
) -> None:
    order_id = _place(backend)
    gateway.refund_confirms = False
    dispatcher: HandlerDispatcher = backend.container.dispatcher()

    dispatcher.deliver(_events(backend, "OrderPlaced"))

    # The capture landed after the cancel; the refund was not confirmed: still captured,
    # and the delivery is parked after its attempts instead of being marked done.
    assert _payment_status(backend, order_id) is PaymentStatus.CAPTURED
    (letter,) = backend.container.dead_letters().peek()
    assert letter.queue == "orderly.payments.charge" and letter.attempts == 3
    assert "RefundNotConfirmed" in letter.error
    dispatcher.deliver(_events(backend, "OrderCancelled"))
    assert _payment_status(backend, order_id) is PaymentStatus.CAPTURED
    assert backend.container.dead_letters().count() == 2

    gateway.refund_confirms = True  # the gateway answers again
    assert len(backend.container.dead_letters().replay()) == 2
    assert _payment_status(backend, order_id) is PaymentStatus.REFUNDED
    assert gateway.ledger.refunds() == {order_id: 1}
    assert backend.container.dead_letters().count() == 0
