"""Fault tests: the saga across real processes on PostgreSQL and RabbitMQ.

Each test runs `orderly relay` and `orderly worker` as processes, places orders
through the use cases in this process (as the API does: one transaction, no
broker I/O), breaks something in the middle of the stream, and ends with the
same audit (messaging_support.audit): every order in its expected state, the
gateway's ledger (a SQLite file shared by every process) charged each order at
most once and refunded each cancelled paid order exactly once, every event in
every subscriber's inbox (notifications audited through the inbox rows, plus at
least one log line each), the outbox drained, and no message left ready or
unacknowledged except what was deliberately dead-lettered.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pika
import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from entrypoints.http.app import create_app
from tests.conftest import RABBITMQ_HOST, RABBITMQ_PORT
from tests.integration.messaging_support import (
    PRICE,
    SKUS,
    Shop,
    TcpProxy,
    audit,
    await_consumers,
    deployment,
    queue_counts,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]


def test_a_worker_killed_mid_stream_loses_nothing_and_repeats_no_effect(
    tmp_path: Path, postgres_url: str, rabbitmq_url: str
) -> None:
    with deployment(tmp_path, postgres_url, rabbitmq_url) as deploy:
        shop = Shop(deploy)
        deploy.orderly("relay", "relay")
        worker = deploy.orderly("worker", "worker", "--threads", "2")
        await_consumers(deploy.broker_url)

        stream = shop.stream(600)
        wait_until(lambda: shop.count_in("paid") >= 120, "the worker to pay 120 orders")
        # Frozen while orders keep coming: the broker keeps handing it deliveries (up to
        # the prefetch), so it dies holding unacknowledged messages.
        worker.send_signal(signal.SIGSTOP)

        def unacked() -> int:
            return sum(n for _, n in queue_counts(deploy.broker_url).values())

        wait_until(lambda: unacked() > 0, "deliveries in flight to the frozen worker")
        in_flight = unacked()
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        killed_at = shop.count_in("paid")
        more = min(600, stream.placed + 50)
        wait_until(lambda: stream.placed >= more, "orders placed while no worker runs")
        deploy.orderly("worker", "worker", "--threads", "2")
        stream.join()

        report = audit(shop, deploy)
    assert in_flight > 0  # killed holding deliveries: the broker redelivered them
    assert report.orders == 600
    assert report.refunded > 0  # cancellations of paid orders were in the stream
    assert killed_at < report.paid  # the restarted worker finished the stream


def test_a_relay_killed_mid_batch_duplicates_on_the_wire_not_in_effects(
    tmp_path: Path, postgres_url: str, rabbitmq_url: str
) -> None:
    # The relay reaches the broker through a proxy that can hold back the broker's
    # replies: the relay is then killed with its batch published but not confirmed,
    # so not marked sent - deterministically mid-batch.
    proxy = TcpProxy((RABBITMQ_HOST, RABBITMQ_PORT))
    try:
        with deployment(
            tmp_path, postgres_url, proxy.url(rabbitmq_url), ORDERLY_RELAY_BATCH_SIZE="200"
        ) as deploy:
            deploy.broker_url = rabbitmq_url
            shop = Shop(deploy)
            relay = deploy.orderly("relay", "relay")
            wait_until(lambda: shop.backlog() == 0, "the relay to connect and publish")
            relay.send_signal(signal.SIGSTOP)
            for _ in range(400):  # a backlog: the relay wakes up to full batches
                shop.place_one()
            assert _unsent_placed(shop) == 400
            broker = pika.BlockingConnection(pika.URLParameters(deploy.broker_url))

            def on_wire() -> int:
                queue = broker.channel().queue_declare("orderly.payments.charge", passive=True)
                return int(queue.method.message_count)

            proxy.hold_replies()
            relay.send_signal(signal.SIGCONT)
            wait_until(lambda: on_wire() > 0, "the first batch to reach the broker")
            relay.send_signal(signal.SIGKILL)  # publishing done, confirms not yet seen
            relay.wait()
            published, unsent = on_wire(), _unsent_placed(shop)
            broker.close()
            proxy.release_replies()
            # Every OrderPlaced on the wire is still unsent in the outbox: the restarted
            # relay publishes them again (duplicates on the wire).
            assert published > 0 and unsent == 400

            deploy.orderly("worker", "worker", "--threads", "2")
            stream = shop.stream(200)  # orders keep coming while no relay runs
            deploy.orderly("relay", "relay")
            stream.join()
            report = audit(shop, deploy)
    finally:
        proxy.close()
    assert report.orders == 600


def test_the_broker_down_for_seconds_loses_nothing_and_the_api_keeps_accepting(
    tmp_path: Path, postgres_url: str, rabbitmq_url: str
) -> None:
    # Every process reaches the broker through a proxy; cutting it is the broker going
    # away for this deployment only (the machine's RabbitMQ keeps serving other tests).
    proxy = TcpProxy((RABBITMQ_HOST, RABBITMQ_PORT))
    try:
        with deployment(tmp_path, postgres_url, proxy.url(rabbitmq_url)) as deploy:
            deploy.broker_url = rabbitmq_url  # the test itself inspects the broker directly
            shop = Shop(deploy)
            customer = shop.c.create_principal()("fault-customer", "customer")
            auth = {"Authorization": f"Bearer {customer.api_key}"}
            for _ in range(2):  # two relays share the outbox (SKIP LOCKED)
                deploy.orderly("relay", "relay")
            deploy.orderly("worker", "worker", "--threads", "2")
            await_consumers(deploy.broker_url)
            stream = shop.stream(400)
            wait_until(lambda: shop.count_in("paid") >= 50, "the first 50 orders paid")

            with TestClient(create_app(shop.c)) as api:
                proxy.cut()  # the broker is gone for the relays, the worker and the API
                try:
                    before = stream.placed
                    ready = api.get("/health/ready")
                    posted = [
                        api.post(
                            "/v1/orders",
                            json={"lines": [{"sku": SKUS[0], "quantity": 1}]},
                            headers=auth,
                        )
                        for _ in range(5)
                    ]
                    time.sleep(4)
                    backlog_during = shop.backlog()
                    placed_during = stream.placed - before
                finally:
                    proxy.restore()
                wait_until(lambda: api.get("/health/ready").status_code == 200, "readiness")
            assert ready.status_code == 503 and ready.json()["dependency"] == "broker"
            assert [r.status_code for r in posted] == [201] * 5, posted[0].text
            for response in posted:
                shop.expected[response.json()["id"]] = "paid"
            stream.join()
            report = audit(shop, deploy)
            # The processes did lose the broker, and came back by themselves.
            assert "rabbitmq connection lost" in deploy.logs("worker")
            assert "delivery failed" in deploy.logs("relay")
    finally:
        proxy.close()
    assert placed_during > 0, "the API stopped accepting orders while the broker was down"
    assert backlog_during > 0, "events were not kept in the outbox during the outage"
    assert report.orders == 405


def _unsent_placed(shop: Shop) -> int:
    with shop.c.database().engine.connect() as conn:
        query = "SELECT count(*) FROM outbox WHERE type = 'OrderPlaced' AND sent_at IS NULL"
        return int(conn.execute(text(query)).scalar_one())


def test_a_poison_message_is_retried_dead_lettered_and_replayed_once_fixed(
    tmp_path: Path, postgres_url: str, rabbitmq_url: str
) -> None:
    poison = tmp_path / "poison-amounts"
    poison_amount = PRICE * 2  # the only order of quantity 2
    poison.write_text(f"{poison_amount}\n")
    with deployment(
        tmp_path,
        postgres_url,
        rabbitmq_url,
        ORDERLY_MAX_DELIVERY_ATTEMPTS="4",
        ORDERLY_RETRY_DELAY_MS="200",
    ) as deploy:
        shop = Shop(deploy)
        deploy.orderly("relay", "relay")
        deploy.spawn(
            "worker", sys.executable, "-m", "tests.integration.messaging_support",
            "poison-worker", str(poison),
        )  # fmt: skip
        await_consumers(deploy.broker_url)
        stream = shop.stream(100)
        poisoned = shop.place_one(quantity=2)
        stream.join()
        shop.expected[poisoned] = "pending_payment"

        # Every other order completes while the poison message is retried, then it is
        # dead-lettered after the 4th attempt.
        dead = _wait_for_dead_letter(deploy.broker_url)
        assert dead.type == "OrderPlaced"
        headers = dead.headers
        assert headers["x-orderly-attempt"] == 4
        assert "merchant config" in headers["x-orderly-error"]
        # It waited in each retry queue once, each delay twice the one before.
        waits = {
            entry["queue"]: entry["count"]
            for entry in headers["x-death"]
            if entry["reason"] == "expired"
        }
        assert waits == {
            "orderly.payments.charge.retry.200ms": 1,
            "orderly.payments.charge.retry.400ms": 1,
            "orderly.payments.charge.retry.800ms": 1,
        }
        audit(shop, deploy, dead_lettered={dead.message_id})  # the rest: unaffected

        listed = deploy.run("dlq", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        (letter,) = json.loads(listed.stdout)
        assert letter["queue"] == "orderly.payments.charge" and letter["attempts"] == 4
        poison.write_text("")  # the cause is fixed
        replayed = deploy.run("dlq", "replay")
        assert replayed.returncode == 0, replayed.stderr
        assert "replayed 1" in replayed.stdout

        shop.expected[poisoned] = "paid"
        report = audit(shop, deploy)
    assert report.orders == 101


def _wait_for_dead_letter(broker_url: str) -> Any:
    """Peek at the one dead letter's properties (it stays in the queue)."""
    found: list[Any] = []

    def peek() -> bool:
        connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        try:
            channel = connection.channel()
            method, properties, _ = channel.basic_get("orderly.dead-letter", auto_ack=False)
            if method is None:
                return False
            found.append(properties)
            return True
        finally:
            connection.close()  # unacked: it stays in the queue

    wait_until(peek, "the poison message in the dead-letter queue")
    return found[0]
