"""The RabbitMQ adapter against the real broker: topology, message properties,
dead letters and the operator commands, readiness, and `orderly worker`'s
graceful shutdown."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika
import pytest
from click.testing import CliRunner, Result
from prometheus_client import REGISTRY

from adapters.memory.webhook_network import MemoryResolver
from adapters.messaging.health import BrokerHealth
from adapters.messaging.metrics import DEAD_LETTERS
from adapters.messaging.rabbitmq.publisher import RabbitPublisher
from adapters.messaging.rabbitmq.topology import DEAD_LETTER_QUEUE, EXCHANGE, Topology
from adapters.messaging.relay import OutboxRelay
from adapters.system import FixedClock
from core.domain.events import EVENT_TYPES, EventEnvelope
from core.domain.orders import RequestedLine
from core.ports.errors import DependencyUnavailable
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.ordering import PlaceOrderCommand
from entrypoints.cli.main import cli
from entrypoints.cli.support import CliState
from entrypoints.container import Container, build_container
from entrypoints.delivery import track_delivery_metrics
from entrypoints.settings import Settings
from entrypoints.worker import Worker

pytestmark = pytest.mark.rabbitmq
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def container(rabbitmq_url: str) -> Container:
    return build_container(
        Settings(
            database_url="memory://",
            messaging="rabbitmq",
            rabbitmq_url=rabbitmq_url,
            max_delivery_attempts=3,
            retry_delay_ms=50,
        )
    )


@pytest.fixture
def channel(rabbitmq_url: str) -> Iterator[Any]:
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq_url))
    try:
        yield connection.channel()
    finally:
        if connection.is_open:
            connection.close()


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _envelope(event_type: str = "OrderPlaced") -> EventEnvelope:
    return EventEnvelope(
        event_id="evt-1",
        type=event_type,
        subject="order-1",
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        correlation_id="corr-1",
        schema_version=1,
        payload={"order_id": "order-1", "customer_id": "c1", "total": 1, "currency": "EUR"},
    )


def test_the_topology_declares_idempotently_and_survives_a_new_retry_delay(
    container: Container, channel: Any
) -> None:
    topology: Topology = container.rabbitmq_topology()
    topology.declare(channel)
    topology.declare(channel)  # again, as every process does at startup
    handlers = container.handlers()
    Topology.for_handlers(handlers, 3, 75).declare(channel)  # another delay: new queues
    for route in topology.routes:
        assert channel.queue_declare(route.queue, passive=True)
        delays = [delay for _, delay in route.retry_queues]
        assert delays == [50, 100]  # growing: one queue per retry before the last attempt
    assert channel.queue_declare(DEAD_LETTER_QUEUE, passive=True)
    # The saga and notifications listen to order events; the webhook fan-out to every
    # event type, through one queue bound to each.
    assert {r.event_type for r in topology.routes} == set(EVENT_TYPES)
    fanout = [r for r in topology.routes if r.handler == "webhooks.fanout"]
    assert {r.queue for r in fanout} == {"orderly.webhooks.fanout"}
    assert {r.event_type for r in fanout} == set(EVENT_TYPES)


def test_the_fan_out_queue_gets_only_events_a_subscription_wants(
    container: Container, channel: Any
) -> None:
    """Decision 0011. A broker declared by an earlier version bound the fan-out's
    queue to every type; declaring the topology again removes those bindings."""
    fanout = "orderly.webhooks.fanout"
    topology: Topology = container.rabbitmq_topology()
    topology.declare(channel)
    channel.queue_bind(queue=fanout, exchange=EXCHANGE, routing_key="OrderPlaced")  # the old way
    topology.declare(channel)
    container.host_resolver.override(MemoryResolver({"hooks.example.com": ["93.184.216.34"]}))
    publisher: RabbitPublisher = container.rabbitmq_publisher()
    try:
        publisher.publish([_envelope()])  # no subscription yet
        assert channel.queue_declare(fanout, passive=True).method.message_count == 0
        container.webhook_admin().create("https://hooks.example.com/h", ["OrderPlaced"])
        publisher.publish([_envelope(), replace(_envelope("OrderPaid"), event_id="evt-2")])
    finally:
        publisher.close()
    method, properties, _body = channel.basic_get(fanout, auto_ack=True)
    assert method is not None and method.routing_key == "OrderPlaced"
    assert "BCC" not in (properties.headers or {})  # the broker strips it
    assert channel.queue_declare(fanout, passive=True).method.message_count == 0
    assert channel.queue_declare("orderly.payments.charge", passive=True).method.message_count == 2


def test_published_events_are_persistent_and_carry_their_identity(
    container: Container, channel: Any
) -> None:
    publisher: RabbitPublisher = container.rabbitmq_publisher()
    try:
        publisher.publish([_envelope()])
    finally:
        publisher.close()
    method, properties, body = channel.basic_get("orderly.payments.charge", auto_ack=True)
    assert method is not None and method.exchange == EXCHANGE
    assert method.routing_key == "OrderPlaced"
    assert properties.delivery_mode == 2
    assert properties.content_type == "application/json"
    assert (properties.message_id, properties.type, properties.correlation_id) == (
        "evt-1",
        "OrderPlaced",
        "corr-1",
    )
    assert properties.headers["schema-version"] == 1
    assert EventEnvelope.from_dict(json.loads(body)) == _envelope()


def test_an_unreachable_broker_is_reported_and_events_stay_in_the_outbox(
    container: Container,
) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{_unused_port()}/%2F"
    container.create_product()(CreateProductCommand("MUG-1", "Mug", 100, True, 1))
    publisher = RabbitPublisher(url, container.rabbitmq_topology(), connect_timeout=1)
    relay = OutboxRelay(container.outbox(), publisher.publish)
    with pytest.raises(DependencyUnavailable) as raised:
        relay.pass_once()
    assert raised.value.dependency == "rabbitmq"
    assert container.queries().outbox_status().backlog == 2
    with pytest.raises(DependencyUnavailable) as health:
        BrokerHealth(url, timeout=1)()
    assert health.value.dependency == "rabbitmq"
    container.broker_health()()  # the real broker answers


def _dead_lettered() -> float:
    value = REGISTRY.get_sample_value(
        "orderly_messages_dead_lettered_total", {"handler": "payments.charge"}
    )
    return value or 0.0


def _invoke(container: Container, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=CliState(container), catch_exceptions=False)


def test_unreadable_messages_are_dead_lettered_at_once_and_operators_see_them(
    container: Container, channel: Any
) -> None:
    before = _dead_lettered()
    worker = Worker(container, threads=1)
    threads = worker.threads()
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while not worker.consumers[0].consuming.is_set():
            assert time.monotonic() < deadline, "the consumer never subscribed"
            time.sleep(0.02)
        channel.basic_publish("", "orderly.payments.charge", b"{not json")
        while channel.queue_declare(DEAD_LETTER_QUEUE, passive=True).method.message_count < 1:
            assert time.monotonic() < deadline, "nothing was dead-lettered"
            time.sleep(0.02)
    finally:
        worker.stop()
        for thread in threads:
            thread.join(30)

    assert _dead_lettered() == before + 1  # the metric operators alert on
    listed = _invoke(container, "dlq", "list", "--json")
    assert listed.exit_code == 0, listed.output
    (letter,) = json.loads(listed.output)
    assert letter["queue"] == "orderly.payments.charge"
    assert letter["attempts"] == 1  # not retried: retrying cannot make it readable
    assert "not an event envelope" in letter["error"]
    table = _invoke(container, "dlq", "list")
    assert "orderly.payments.charge" in table.output
    assert _invoke(container, "dlq", "list", "--json").output == listed.output  # still there
    status = json.loads(_invoke(container, "outbox", "status", "--json").output)
    assert status["dead_letters"] == 1
    track_delivery_metrics(container)
    assert next(iter(DEAD_LETTERS.collect())).samples[0].value == 1  # the depth gauge

    purged = _invoke(container, "dlq", "purge", "--yes")
    assert purged.exit_code == 0 and "purged 1" in purged.output
    assert json.loads(_invoke(container, "dlq", "list", "--json").output) == []
    assert "replayed 0" in _invoke(container, "dlq", "replay").output


def test_the_worker_sweeps_orders_unpaid_past_the_timeout(rabbitmq_url: str) -> None:
    container = build_container(
        Settings(
            database_url="memory://",
            messaging="rabbitmq",
            rabbitmq_url=rabbitmq_url,
            payment_timeout_seconds=900,
            sweep_interval_seconds=1,
        )
    )
    clock = FixedClock()
    container.clock.override(clock)
    container.create_product()(CreateProductCommand("MUG-1", "Mug", 100, True, 5))
    place = container.place_order()
    stale = place(PlaceOrderCommand("c1", [RequestedLine("MUG-1", 2)])).order.id
    clock.advance(901)  # no relay runs: the order stays unpaid past the timeout
    fresh = place(PlaceOrderCommand("c1", [RequestedLine("MUG-1", 1)])).order.id
    worker = Worker(container, threads=1)
    threads = worker.threads()
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while (view := container.queries().get_order(stale)) is None or view.status != "cancelled":
            assert time.monotonic() < deadline, "the sweep never cancelled the stale order"
            time.sleep(0.05)
    finally:
        worker.stop()
        for thread in threads:
            thread.join(30)
    assert view.cancel_reason == "payment_timeout"
    kept = container.queries().get_order(fresh)
    assert kept is not None and kept.status == "pending_payment"
    stock = container.queries().get_stock("MUG-1")
    assert stock is not None and stock.reserved == 1  # the stale order's units released


def test_messaging_commands_refuse_in_process_mode_with_a_reason() -> None:
    memory = build_container(Settings(database_url="memory://"))
    for command in (["worker"], ["relay"]):
        result = CliRunner().invoke(cli, command, obj=CliState(memory))
        assert result.exit_code == 1
        assert "ORDERLY_MESSAGING=rabbitmq" in result.output
    # dlq works in both modes (in-process: the dead-letter store).
    listed = CliRunner().invoke(cli, ["dlq", "list", "--json"], obj=CliState(memory))
    assert (listed.exit_code, json.loads(listed.output)) == (0, [])
    status = CliRunner().invoke(cli, ["outbox", "status", "--json"], obj=CliState(memory))
    assert json.loads(status.output) == {
        "backlog": 0,
        "oldest_age_seconds": None,
        "dead_letters": 0,
    }


def test_sigterm_stops_the_worker_gracefully(
    rabbitmq_url: str, container: Container, channel: Any
) -> None:
    container.rabbitmq_topology().declare(channel)  # so the test can watch the queue at once
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERLY_")}
    env.update(
        ORDERLY_DATABASE_URL="memory://",
        ORDERLY_MESSAGING="rabbitmq",
        ORDERLY_RABBITMQ_URL=rabbitmq_url,
    )
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("orderly")), "worker", "--threads", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(worker.stdout or []))
    reader.start()
    try:
        deadline = time.monotonic() + 60

        def consumers() -> int:
            declared = channel.queue_declare("orderly.payments.charge", passive=True)
            return int(declared.method.consumer_count)

        while "worker started" not in "".join(output) or consumers() < 2:
            assert worker.poll() is None and time.monotonic() < deadline, "".join(output)
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        reader.join(10)
    log = "".join(output)
    assert "received SIGTERM, stopping" in log and "worker stopped" in log
    assert "Traceback" not in log
    assert consumers() == 0
