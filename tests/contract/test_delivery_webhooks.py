"""The webhook fan-out through each delivery adapter, on each storage.

With RabbitMQ the relay routes an event to the fan-out's queue only when an
active subscription wants it, asking the webhook store after it claimed the
batch (docs/decisions/0011). These tests hold both modes to the same outcome:
no subscription, no fan-out work through the broker; a subscription created
while orders flow gets a delivery for every event it wants that committed after
it (decision 0010's catch-up is not what makes this pass: each order here is
its own subject).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from adapters.memory.webhook_network import MemoryReceiver, MemoryResolver
from adapters.messaging.metrics import MESSAGES_HANDLED
from adapters.sql import migrate
from adapters.sql.database import SqlDatabase
from core.domain.orders import RequestedLine
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.handlers import WEBHOOK_FANOUT
from core.use_cases.ordering import PlaceOrderCommand
from entrypoints.container import Container
from tests.conftest import rabbitmq_vhost
from tests.contract.test_delivery import Harness, RabbitHarness, eventually, harness_for

URL = "https://hooks.example.com/orderly"
WANTED = ["OrderPlaced", "OrderPaid"]


@pytest.fixture(scope="module")
def module_vhost() -> Iterator[str]:
    with rabbitmq_vhost() as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    url: str = (
        f"sqlite:///{tmp_path / 'orderly.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    database = SqlDatabase.from_url(url)
    migrate.upgrade(database)
    database.dispose()
    return url


@pytest.fixture(params=["inprocess", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def harness(request: pytest.FixtureRequest, database_url: str) -> Iterator[Harness]:
    made = harness_for(request, {"database_url": database_url})
    c = made.container
    c.webhook_sender.override(MemoryReceiver())
    c.host_resolver.override(MemoryResolver({"hooks.example.com": ["93.184.216.34"]}))
    try:
        yield made
    finally:
        made.stop()
        if database_url != "memory://":
            c.database().dispose()


def fanned_out() -> float:
    return sum(
        sample.value
        for metric in MESSAGES_HANDLED.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels["handler"] == WEBHOOK_FANOUT
    )


def place(c: Container) -> str:
    return str(c.place_order()(PlaceOrderCommand("cust-1", [RequestedLine("MUG-1", 1)])).order.id)


def settled(c: Container, orders: list[str]) -> bool:
    views = [c.queries().get_order(o) for o in orders]
    done = all(v is not None and str(v.status) == "paid" for v in views)
    return done and c.queries().outbox_status().backlog == 0


def fanout_queue_depth(c: Container) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(c.config.rabbitmq_url()))
    try:
        queue = "orderly." + WEBHOOK_FANOUT
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def test_a_subscription_created_while_orders_flow_gets_every_later_event(
    harness: Harness,
) -> None:
    c = harness.container
    rabbitmq = isinstance(harness, RabbitHarness)
    c.create_product()(CreateProductCommand("MUG-1", "Mug", 1250, True, 10_000))
    harness.start()

    # No subscription: nothing to fan out, and with RabbitMQ not even a message.
    before = fanned_out()
    early = [place(c) for _ in range(10)]
    eventually(lambda: settled(c, early), "the first orders paid and relayed")
    if rabbitmq:
        assert fanned_out() == before, "events no subscription wants reached the fan-out"
        assert fanout_queue_depth(c) == 0

    # A subscription created while another thread keeps placing orders.
    after: list[str] = []
    created = threading.Event()
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set() or len(after) < 15:
            subscribed = created.is_set()  # read before the order's transaction begins
            order_id = place(c)
            if subscribed:
                after.append(order_id)

    streamer = threading.Thread(target=stream)
    streamer.start()
    try:
        eventually(lambda: c.queries().outbox_status().backlog > 0, "orders in flight")
        subscription = c.webhook_admin().create(URL, WANTED, "created mid-stream").subscription
        created.set()
    finally:
        stop.set()
        streamer.join(timeout=60)

    store = c.webhook_store()

    def delivered() -> set[tuple[str, str]]:
        rows = store.deliveries(subscription.id, None, None, 100_000)
        return {(d.event_type, d.subject) for _, d in rows}

    expected = {(t, o) for o in after for t in WANTED}
    eventually(lambda: settled(c, after), "the later orders paid and relayed")
    eventually(lambda: expected <= delivered(), "a delivery for every later event")
    if rabbitmq:
        assert fanned_out() > before, "the fan-out ran through its queue"
