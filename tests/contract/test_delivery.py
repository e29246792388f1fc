"""The delivery contract, run on every delivery adapter.

Whatever carries events (the in-process background relay, or the outbox relay
publishing to RabbitMQ and a worker consuming from it), every committed event
reaches every subscriber at least once and each handler's effect happens
exactly once: orders are paid or cancelled, the gateway charges each order once
and refunds a cancelled paid order once, each notification is sent once.

Storage is in memory here, so the test sees the store and the gateway's ledger
store directly, and the notifier's log records in this process;
tests/integration/test_messaging_*.py repeat the audit across processes on
PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Protocol

import pika
import pytest

from adapters.memory.store import MemoryStore, OutboxRow
from adapters.messaging.dispatch import HandlerDispatcher
from adapters.messaging.metrics import MESSAGES_HANDLED
from adapters.messaging.rabbitmq.publisher import RabbitPublisher
from adapters.messaging.rabbitmq.topology import Topology
from adapters.messaging.relay import OutboxRelay
from core.domain.events import EventEnvelope
from core.domain.orders import RequestedLine
from core.domain.principals import Role
from core.ports.correlation import correlation
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.ordering import CancelOrderCommand, PlaceOrderCommand
from core.use_cases.support import Actor
from entrypoints.container import Container, build_container
from entrypoints.delivery import InProcessDelivery, start_delivery
from entrypoints.settings import Settings
from entrypoints.worker import Worker
from tests.conftest import rabbitmq_vhost
from tests.payments_ledger import LedgerReader, OrderFacts, assert_payments_audited
from tests.sent_notifications import SentNotifications

DEADLINE = 60.0  # generous bound on waits, so a broken adapter fails instead of hanging


def eventually(condition: Callable[[], bool], what: str) -> None:
    give_up = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


class Harness(Protocol):
    container: Container
    notifications: SentNotifications

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def deliver_again(self, envelopes: list[EventEnvelope]) -> None:
        """Put these events on the wire again and return once every handler saw them."""
        ...


class InProcessHarness:
    """`orderly serve` with in-process messaging: BackgroundRelay started by start_delivery."""

    notifications: SentNotifications

    def __init__(self, settings: Settings) -> None:
        self.container = build_container(settings)
        self.container.config.delivery.from_value("background")
        self._relay: InProcessDelivery | None = None

    def start(self) -> None:
        delivery = start_delivery(self.container)
        assert isinstance(delivery, InProcessDelivery)
        self._relay = delivery

    def stop(self) -> None:
        if self._relay is not None:
            self._relay.stop()

    def deliver_again(self, envelopes: list[EventEnvelope]) -> None:
        dispatcher: HandlerDispatcher = self.container.dispatcher()
        dispatcher.deliver(envelopes)


def handled_total() -> float:
    return sum(
        sample.value
        for metric in MESSAGES_HANDLED.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


class RabbitHarness:
    """`orderly relay` + `orderly worker` (two consumer threads), here in threads."""

    notifications: SentNotifications

    def __init__(self, settings: Settings) -> None:
        self.container = build_container(settings)
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        c = self.container
        purge(c.config.rabbitmq_url(), c.rabbitmq_topology())
        self.publisher: RabbitPublisher = c.rabbitmq_publisher()
        self.relay = OutboxRelay(c.outbox(), self.publisher.publish, batch_size=50)
        c.commit_hooks().subscribe(self.relay.wake)
        self.worker = Worker(c, threads=2)
        self._threads = [*self.worker.threads(), threading.Thread(target=self.relay.run)]
        for thread in self._threads:
            thread.start()
        eventually(
            lambda: all(consumer.consuming.is_set() for consumer in self.worker.consumers),
            "the consumers to subscribe",
        )

    def stop(self) -> None:
        if not self._threads:
            return
        self.worker.stop()
        self.relay.stop()
        for thread in self._threads:
            thread.join(timeout=30)
        self.publisher.close()

    def deliver_again(self, envelopes: list[EventEnvelope]) -> None:
        dispatcher: HandlerDispatcher = self.container.dispatcher()
        # A selective handler (the webhook fan-out) is sent only the events it wants.
        expected = sum(
            1
            for e in envelopes
            for h in dispatcher.for_type(e.type)
            if h.wanted is None or e.event_id in h.wanted([e])
        )
        before = handled_total()
        self.publisher.publish(envelopes)
        eventually(lambda: handled_total() - before >= expected, "the redelivered events")


MakeHarness = Callable[..., Harness]


def purge(url: str, topology: Topology) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        topology.declare(channel)
        for queue in topology.queues:
            channel.queue_purge(queue)
    finally:
        connection.close()


@pytest.fixture(scope="module")
def module_vhost() -> Iterator[str]:
    """One vhost for this module's RabbitMQ runs (rabbitmqctl costs seconds per call);
    each harness purges the queues before it starts."""
    with rabbitmq_vhost() as url:
        yield url


def harness_for(request: pytest.FixtureRequest, fields: dict[str, object]) -> Harness:
    """The harness of the mode `request.param` names ("inprocess" or "rabbitmq")."""
    if request.param == "rabbitmq":
        fields = fields | {
            "messaging": "rabbitmq",
            "rabbitmq_url": request.getfixturevalue("module_vhost"),
            "retry_delay_ms": 20,
        }
        return RabbitHarness(Settings(**fields))  # type: ignore[arg-type]
    return InProcessHarness(Settings(**fields))  # type: ignore[arg-type]


@pytest.fixture(params=["inprocess", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def make_harness(
    request: pytest.FixtureRequest, sent_notifications: SentNotifications
) -> Iterator[MakeHarness]:
    harnesses: list[Harness] = []

    def make(**overrides: object) -> Harness:
        harness = harness_for(request, {"database_url": "memory://", **overrides})
        harness.notifications = sent_notifications
        # Build the singletons here, not lazily from several threads at once.
        for provider in ("memory_store", "payments_ledger", "gateway", "dispatcher", "outbox"):
            getattr(harness.container, provider)()
        harnesses.append(harness)
        return harness

    yield make
    for harness in harnesses:
        harness.stop()


class Shop:
    """Use cases and the adapters' state, through the harness's container."""

    def __init__(self, harness: Harness) -> None:
        self.c = harness.container
        self._notifications = harness.notifications

    @property
    def store(self) -> MemoryStore:
        store: MemoryStore = self.c.memory_store()
        return store

    @property
    def ledger(self) -> LedgerReader:
        return LedgerReader(self.c.payments_ledger())

    def notifications(self) -> Counter[tuple[str, str]]:
        return Counter((n.kind, n.order_id) for n in self._notifications.sent)

    def audit_payments(self, orders: list[str]) -> None:
        """Every gateway call of the run checked against the orders' end state."""
        facts = {}
        for order_id in orders:
            view = self.c.queries().get_order(order_id)
            assert view is not None
            facts[order_id] = OrderFacts(view.status, view.total, view.cancel_reason)
        assert_payments_audited(self.ledger.calls(), facts)

    def product(self, sku: str, price: int, on_hand: int) -> None:
        self.c.create_product()(CreateProductCommand(sku, f"Product {sku}", price, True, on_hand))

    def place(self, sku: str, quantity: int = 1, customer: str = "cust-1") -> str:
        cmd = PlaceOrderCommand(customer, [RequestedLine(sku, quantity)])
        return str(self.c.place_order()(cmd).order.id)

    def status(self, order_id: str) -> str:
        view = self.c.queries().get_order(order_id)
        assert view is not None
        return str(view.status)

    def wait_for(self, order_ids: list[str], *statuses: str) -> None:
        eventually(
            lambda: all(self.status(o) in statuses for o in order_ids),
            f"{len(order_ids)} orders to become {' or '.join(statuses)}",
        )

    def events(self) -> list[EventEnvelope]:
        with self.store.lock:
            return [row.envelope for row in self.store.outbox]

    def drained(self) -> bool:
        return bool(self.c.queries().outbox_status().backlog == 0)


def test_placed_orders_are_paid_charged_and_notified_once(make_harness: MakeHarness) -> None:
    harness = make_harness()
    shop = Shop(harness)
    harness.start()
    shop.product("MUG-1", 1250, 100)
    orders = [shop.place("MUG-1", 2) for _ in range(20)]
    shop.wait_for(orders, "paid")
    eventually(lambda: len(shop.notifications()) == 20, "20 notifications")
    assert shop.ledger.charges() == dict.fromkeys(orders, 1)
    assert shop.ledger.captured() == set(orders)
    assert all(e.amount == 2500 for e in shop.ledger.calls())
    shop.audit_payments(orders)
    assert shop.notifications() == Counter({("order_paid", o): 1 for o in orders})
    eventually(shop.drained, "the outbox to drain")


def test_events_a_handler_causes_carry_the_correlation_id_of_the_event_it_handled(
    make_harness: MakeHarness,
) -> None:
    """Placed here under a request's id, handled in the relay's or a worker's thread,
    which has none of its own: the saga's OrderPaid carries the OrderPlaced's id."""
    harness = make_harness()
    shop = Shop(harness)
    harness.start()
    shop.product("BOWL-1", 400, 10)
    expected = {}
    for n in range(3):  # one at a time: each OrderPlaced is handled on its own
        with correlation(f"req-{n}"):
            order = shop.place("BOWL-1")
        shop.wait_for([order], "paid")
        expected[order] = f"req-{n}"
    eventually(lambda: len(shop.notifications()) == 3, "3 notifications")
    by_type: dict[str, dict[str, str]] = {}
    for e in shop.events():
        by_type.setdefault(e.type, {})[e.subject] = e.correlation_id
    assert by_type["OrderPlaced"] == by_type["OrderPaid"] == expected


def test_a_declined_charge_cancels_the_order_and_releases_stock(
    make_harness: MakeHarness,
) -> None:
    harness = make_harness(payments_decline_above=5000)
    shop = Shop(harness)
    harness.start()
    shop.product("LAMP-1", 3000, 10)
    cheap = shop.place("LAMP-1", 1)
    dear = shop.place("LAMP-1", 2)
    shop.wait_for([cheap], "paid")
    shop.wait_for([dear], "cancelled")
    view = shop.c.queries().get_order(dear)
    assert view is not None and view.cancel_reason == "payment_declined"
    stock = shop.c.queries().get_stock("LAMP-1")
    assert stock is not None and (stock.reserved, stock.available) == (1, 9)
    assert shop.ledger.captured() == {cheap}
    assert shop.ledger.refunds() == {}
    eventually(lambda: len(shop.notifications()) == 2, "two notifications")
    assert shop.notifications() == Counter({("order_paid", cheap): 1, ("order_cancelled", dear): 1})


def test_cancelling_a_paid_order_refunds_it_once(make_harness: MakeHarness) -> None:
    harness = make_harness()
    shop = Shop(harness)
    harness.start()
    shop.product("PEN-1", 200, 10)
    order = shop.place("PEN-1", 3)
    shop.wait_for([order], "paid")
    shop.c.cancel_order()(CancelOrderCommand(order, Actor("admin-1", Role.ADMIN)))
    eventually(lambda: shop.ledger.refunds() == {order: 1}, "the refund")
    eventually(lambda: ("order_cancelled", order) in shop.notifications(), "the notice")
    # The handler records the refund after the gateway's answer: wait for it, not the ledger.
    eventually(lambda: shop.store.payments[order].status.value == "refunded", "the refund recorded")
    assert [(e.kind, e.amount) for e in shop.ledger.decisions()] == [
        ("charge", 600),
        ("refund", 600),
    ]
    shop.audit_payments([order])
    eventually(shop.drained, "the outbox to drain")
    assert shop.notifications() == Counter(
        {("order_paid", order): 1, ("order_cancelled", order): 1}
    )


def test_redelivered_events_have_no_second_effect(make_harness: MakeHarness) -> None:
    harness = make_harness()
    shop = Shop(harness)
    harness.start()
    shop.product("CUP-1", 500, 50)
    orders = [shop.place("CUP-1") for _ in range(5)]
    shop.wait_for(orders, "paid")
    shop.c.cancel_order()(CancelOrderCommand(orders[0], Actor("admin-1", Role.ADMIN)))
    eventually(lambda: shop.ledger.refunds() == {orders[0]: 1}, "the refund")
    eventually(lambda: len(shop.notifications()) == 6, "six notifications")
    eventually(shop.drained, "the outbox to drain")
    before = (
        {o: shop.status(o) for o in orders},
        shop.notifications(),
        len(shop.events()),
        dict(shop.store.payments),
    )

    harness.deliver_again(shop.events())  # every event of the run, a second time

    after = (
        {o: shop.status(o) for o in orders},
        shop.notifications(),
        len(shop.events()),
        dict(shop.store.payments),
    )
    assert after == before
    assert shop.ledger.charges() == dict.fromkeys(orders, 1)
    assert shop.ledger.refunds() == {orders[0]: 1}
    # The inbox absorbed the repeats before they reached the gateway.
    assert shop.ledger.charge_calls() == dict.fromkeys(orders, 1)
    shop.audit_payments(orders)


def test_transient_gateway_failures_are_retried_until_paid(make_harness: MakeHarness) -> None:
    # Half the calls fail: runs of 5 failures are common, so the circuit breaker (its own
    # test: tests/unit/test_gateway_guard.py) is set out of the way here.
    harness = make_harness(
        payments_failure_rate=0.5, max_delivery_attempts=20, payments_breaker_failures=1000
    )
    shop = Shop(harness)
    harness.start()
    shop.product("BOWL-1", 900, 100)
    orders = [shop.place("BOWL-1") for _ in range(15)]
    shop.wait_for(orders, "paid")
    assert shop.ledger.charges() == dict.fromkeys(orders, 1)
    assert sum(shop.ledger.charge_calls().values()) >= 15
    shop.audit_payments(orders)
    eventually(lambda: len(shop.notifications()) == 15, "15 notifications")
    assert set(shop.notifications().values()) == {1}


def test_events_committed_before_delivery_started_are_delivered(
    make_harness: MakeHarness,
) -> None:
    harness = make_harness()
    shop = Shop(harness)
    shop.product("FORK-1", 100, 100)
    orders = [shop.place("FORK-1") for _ in range(10)]
    assert {shop.status(o) for o in orders} == {"pending_payment"}
    assert shop.c.queries().outbox_status().backlog == len(shop.events())  # nothing sent

    harness.start()

    shop.wait_for(orders, "paid")
    eventually(shop.drained, "the outbox to drain")
    assert shop.ledger.charges() == dict.fromkeys(orders, 1)


def test_orders_placed_concurrently_all_complete(make_harness: MakeHarness) -> None:
    harness = make_harness()
    shop = Shop(harness)
    harness.start()
    shop.product("KNIFE-1", 100, 1000)
    placed: list[str] = []
    lock = threading.Lock()

    def customer(n: int) -> None:
        for _ in range(10):
            order = shop.place("KNIFE-1", customer=f"cust-{n}")
            with lock:
                placed.append(order)

    threads = [threading.Thread(target=customer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shop.wait_for(placed, "paid")
    eventually(lambda: len(shop.notifications()) == 60, "60 notifications")
    assert shop.ledger.charges() == dict.fromkeys(placed, 1)
    assert set(shop.notifications().values()) == {1}
    shop.store.check_invariants()
    stock = shop.c.queries().get_stock("KNIFE-1")
    assert stock is not None and stock.reserved == 60


def test_a_poison_event_in_a_batch_is_dead_lettered_alone_and_the_rest_commit_once(
    make_harness: MakeHarness,
) -> None:
    """Orders placed while delivery was down arrive as one batch, with an OrderPlaced
    that no handler can read among them: the good ones are charged and notified once,
    the poison one is retried and dead-lettered alone, in either messaging mode."""
    harness = make_harness(max_delivery_attempts=3)
    shop = Shop(harness)
    shop.product("SPOON-1", 300, 100)
    orders = [shop.place("SPOON-1") for _ in range(10)]
    poison = EventEnvelope(
        event_id="poison-event",
        type="OrderPlaced",
        subject="order-poison",
        occurred_at=shop.events()[0].occurred_at,
        correlation_id="poison",
        schema_version=1,
        payload={"order_id": "order-poison"},  # no customer, total, lines: unreadable
    )
    with shop.store.lock:  # committed with the others, in the middle of the backlog
        rows = shop.store.outbox
        rows.insert(5, OutboxRow(0, poison, rows[0].created_at))
        for position, row in enumerate(rows, 1):
            row.position = position

    harness.start()

    shop.wait_for(orders, "paid")
    eventually(lambda: len(shop.notifications()) == 10, "10 notifications")
    eventually(lambda: harness.container.dead_letters().count() == 1, "the dead letter")
    assert shop.ledger.charge_calls() == dict.fromkeys(orders, 1)  # real calls: once each
    assert set(shop.notifications().values()) == {1}
    (letter,) = harness.container.dead_letters().peek()
    assert (letter.event_id, letter.queue, letter.attempts) == (
        "poison-event",
        "orderly.payments.charge",
        3,
    )
    assert "TypeError" in letter.error
    eventually(shop.drained, "the outbox to drain")  # nothing waits behind the poison
