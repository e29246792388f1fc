"""A thin facade over a memory container so that unit tests read like the rules they prove."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dependency_injector import providers

from adapters.memory.store import MemoryStore
from adapters.messaging.dispatch import HandlerDispatcher
from adapters.messaging.inprocess import SynchronousRelay
from adapters.payments.ledger import LedgerStore
from adapters.payments.simulated import SimulatedGateway
from adapters.system import FixedClock
from core.domain.events import EventEnvelope
from core.domain.money import Money
from core.domain.orders import RequestedLine
from core.domain.payments import Payment
from core.domain.principals import Role
from core.ports.correlation import correlation
from core.ports.notifications import Notification
from core.ports.payments import ChargeResult, RefundResult, TransientPaymentError
from core.ports.queries import OrderView, StockView
from core.use_cases.catalog import CreateProductCommand, UpdateProductCommand
from core.use_cases.inventory import AdjustStockCommand, SetStockCommand
from core.use_cases.ordering import (
    CancelOrderCommand,
    PlaceOrderCommand,
    PlaceOrderResult,
    ShipOrderCommand,
)
from core.use_cases.support import Actor
from entrypoints.container import Container
from entrypoints.delivery import start_delivery
from entrypoints.settings import Settings
from tests.payments_ledger import LedgerReader
from tests.sent_notifications import SentNotifications
from tests.unit.containers import lend

ADMIN = Actor("admin-1", Role.ADMIN)
ALICE = Actor("alice-1", Role.CUSTOMER)
BOB = Actor("bob-1", Role.CUSTOMER)

Lines = Mapping[str, int] | list[tuple[str, int]]


def requested(lines: Lines) -> list[RequestedLine]:
    pairs = lines.items() if isinstance(lines, Mapping) else lines
    return [RequestedLine(sku, quantity) for sku, quantity in pairs]


class FlakyGateway:
    """Wraps the simulated gateway: the first `failures` calls raise a transient error."""

    def __init__(self, inner: SimulatedGateway, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.calls = 0

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise TransientPaymentError("gateway timed out (test double)")

    def charge(self, idempotency_key: str, amount: Money) -> ChargeResult:
        self._maybe_fail()
        return self.inner.charge(idempotency_key, amount)

    def refund(self, idempotency_key: str) -> RefundResult:
        self._maybe_fail()
        return self.inner.refund(idempotency_key)


def build_shop(
    clock: FixedClock,
    *,
    gateway: Any = None,
    ledger: LedgerStore | None = None,
    ids: Any = None,
    deliver: bool = True,
    notifications: SentNotifications | None = None,
    **settings: Any,
) -> Shop:
    """A memory container with test doubles wired in *before* delivery is started
    (start_delivery builds the handlers, so later overrides would not reach them).
    A `gateway` built on its own ledger store comes with it as `ledger`, for `Shop.ledger`."""
    container = lend(Settings(database_url="memory://", **settings))
    container.clock.override(clock)
    if gateway is not None:
        container.gateway.override(providers.Object(gateway))
    if ledger is not None:
        container.payments_ledger.override(providers.Object(ledger))
    if ids is not None:
        container.ids.override(providers.Object(ids))
    sleeps: list[float] = []
    # Backoff is recorded, never slept: the unit suite does no waiting.
    container.dispatcher.override(
        providers.Singleton(
            HandlerDispatcher,
            container.handlers,
            attempts=container.config.max_delivery_attempts,
            sleep=sleeps.append,
            dead_letters=container.dead_letter_store,
        )
    )
    if deliver:
        start_delivery(container)
    return Shop(container, clock, sleeps, notifications)


class Shop:
    def __init__(
        self,
        container: Container,
        clock: FixedClock,
        sleeps: list[float] | None = None,
        notifications: SentNotifications | None = None,
    ) -> None:
        self.c = container
        self.clock = clock
        self.sleeps = sleeps if sleeps is not None else []
        self._notifications = notifications

    # Adapters under test.
    @property
    def store(self) -> MemoryStore:
        store: MemoryStore = self.c.memory_store()
        return store

    @property
    def gateway(self) -> SimulatedGateway:
        gateway = self.c.gateway()
        inner: SimulatedGateway = gateway.inner if isinstance(gateway, FlakyGateway) else gateway
        return inner

    @property
    def ledger(self) -> LedgerReader:
        """The gateway's ledger, read from its store."""
        return LedgerReader(self.c.payments_ledger())

    @property
    def sent(self) -> list[Notification]:
        """The notifications logged so far (the shop was built with a recorder)."""
        assert self._notifications is not None, "build the shop with notifications=..."
        return self._notifications.sent

    @property
    def dispatcher(self) -> HandlerDispatcher:
        dispatcher: HandlerDispatcher = self.c.dispatcher()
        return dispatcher

    @property
    def relay(self) -> SynchronousRelay:
        relay: SynchronousRelay = self.c.sync_relay()
        return relay

    def start_delivery(self) -> None:
        start_delivery(self.c)

    # Commands.
    def product(
        self,
        sku: str,
        price: int = 100,
        on_hand: int = 10,
        active: bool = True,
        name: str | None = None,
    ) -> None:
        name = f"Product {sku}" if name is None else name
        self.c.create_product()(CreateProductCommand(sku, name, price, active, on_hand))

    def update(self, sku: str, **changes: Any) -> None:
        self.c.update_product()(UpdateProductCommand(sku, **changes))

    def set_stock(self, sku: str, on_hand: int) -> None:
        self.c.set_stock()(SetStockCommand(sku, on_hand))

    def adjust(self, sku: str, delta: int, reason: str = "count") -> None:
        self.c.adjust_stock()(AdjustStockCommand(sku, delta, reason))

    def place_result(
        self,
        lines: Lines,
        actor: Actor = ALICE,
        key: str | None = None,
        correlation_id: str | None = None,
    ) -> PlaceOrderResult:
        cmd = PlaceOrderCommand(actor.principal_id, requested(lines), key)
        with correlation(correlation_id):  # what the HTTP edge does for a request
            result: PlaceOrderResult = self.c.place_order()(cmd)
        return result

    def place(self, lines: Lines, actor: Actor = ALICE, key: str | None = None) -> str:
        """Place an order and return its id."""
        return self.place_result(lines, actor, key).order.id

    def capture_with_outcome_lost(self, order_id: str, amount: int) -> None:
        """What a worker that died mid-charge leaves: the payment intent recorded and the
        gateway's capture made, but no outcome recorded (delivery must be off)."""
        with self.c.uow_factory()() as uow:
            uow.payments.add(Payment.intent(order_id, amount, "EUR", self.clock.now()))
            uow.commit()
        self.gateway.charge(order_id, Money(amount, "EUR"))

    def cancel(
        self,
        order_id: str,
        actor: Actor = ADMIN,
        expected_version: int | None = None,
        correlation_id: str | None = None,
    ) -> OrderView:
        cmd = CancelOrderCommand(order_id, actor, expected_version)
        with correlation(correlation_id):
            view: OrderView = self.c.cancel_order()(cmd).value
        return view

    def ship(self, order_id: str, actor: Actor = ADMIN) -> OrderView:
        view: OrderView = self.c.ship_order()(ShipOrderCommand(order_id, actor)).value
        return view

    def expire(self) -> int:
        expired: int = self.c.expire_orders()()
        return expired

    # Reads.
    def order(self, order_id: str, actor: Actor = ADMIN) -> OrderView:
        view: OrderView = self.c.order_queries().get(order_id, actor)
        return view

    def stock(self, sku: str) -> StockView:
        view: StockView = self.c.product_queries().stock(sku)
        return view

    def envelopes(
        self, of: Callable[[EventEnvelope], bool] = lambda e: True
    ) -> list[EventEnvelope]:
        """Every committed event in outbox order."""
        return [row.envelope for row in self.store.outbox if of(row.envelope)]

    def types(self, subject: str) -> list[str]:
        return [e.type for e in self.envelopes(lambda e: e.subject == subject)]

    def notifications(self) -> list[tuple[str, str]]:
        return [(n.kind, n.order_id) for n in self.sent]
