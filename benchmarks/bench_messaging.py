"""Messaging: end-to-end event delivery through RabbitMQ against raw pika, in one run.

On a fresh PostgreSQL database and a fresh RabbitMQ vhost on this machine:

- reference:  raw pika on the same broker: N persistent 300-byte messages
              published to a durable queue, each waiting for its confirm
              (BlockingChannel in confirm mode), then consumed with manual acks
              at prefetch 100. Its pipeline rate is N / (publish time + consume time).
- publisher:  Orderly's RabbitPublisher with the same number of real event
              envelopes, per-message (`publish([e])`, one confirm wait each) and
              in batches of ORDERLY_RELAY_BATCH_SIZE (publish all, then wait for
              the batch's confirms): the choice the relay makes.
- end-to-end: orders placed with no relay running (their OrderPlaced events wait in
              the outbox), then `orderly relay` (two relay loops) and `orderly worker`
              (default prefetch 500) started as processes: OrderPlaced -> relay ->
              RabbitMQ -> worker -> charge handler committed (order paid, OrderPaid
              in the outbox) -> relay -> worker -> notification handler committed.
              Events per second counts handler deliveries committed (inbox rows),
              from the first to the last.

    .venv/bin/python -m benchmarks.bench_messaging [--orders 1500] [--messages 3000]
                                                    [--threads 4] [--prefetch N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pika
import psycopg

from adapters.messaging.rabbitmq.publisher import RabbitPublisher
from adapters.sql import migrate
from adapters.sql.database import SqlDatabase
from core.domain.events import EventEnvelope
from core.domain.orders import RequestedLine
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.ordering import PlaceOrderCommand
from entrypoints.container import Container, build_container
from entrypoints.settings import Settings

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
BROKER = "amqp://guest:guest@127.0.0.1:5672"
ROOT = Path(__file__).resolve().parents[1]
ORDERLY = str(Path(sys.executable).with_name("orderly"))
SKUS = ["BENCH-A", "BENCH-B", "BENCH-C", "BENCH-D"]


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def raw_reference(url: str, messages: int) -> tuple[float, float]:
    """Raw pika: publish with a confirm per message, then consume-and-ack at prefetch 100.
    Returns (publishes/s, consumes/s)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_declare("bench.raw", durable=True)
    channel.confirm_delivery()
    body = b"x" * 300
    persistent = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent)
    started = time.perf_counter()
    for _ in range(messages):
        channel.basic_publish("", "bench.raw", body, persistent)
    published = time.perf_counter() - started

    channel.basic_qos(prefetch_count=100)
    started = time.perf_counter()
    deliveries = channel.consume("bench.raw", inactivity_timeout=10)
    for seen, (method, _properties, _body) in enumerate(deliveries, 1):
        if method is None:
            raise RuntimeError("the reference consumer ran dry")
        channel.basic_ack(method.delivery_tag)
        if seen == messages:
            break
    consumed = time.perf_counter() - started
    channel.cancel()
    connection.close()
    return messages / published, messages / consumed


def envelope(n: int) -> EventEnvelope:
    return EventEnvelope(
        event_id=str(uuid.uuid4()),
        type="OrderShipped",
        subject=f"order-{n}",
        occurred_at=datetime.now(UTC),
        correlation_id=str(uuid.uuid4()),
        schema_version=1,
        payload={"order_id": f"order-{n}", "customer_id": f"customer-{n % 97}"},
    )


def publisher_modes(
    url: str, container: Container, messages: int, batch: int
) -> tuple[float, float]:
    """Orderly's publisher: (events/s one confirm wait per event, events/s per batch)."""
    topology = container.rabbitmq_topology()
    publisher = RabbitPublisher(url, topology)
    try:
        publisher.publish([envelope(-1)])  # connect and declare outside the timing
        single = [envelope(n) for n in range(messages // 4)]
        started = time.perf_counter()
        for one in single:
            publisher.publish([one])
        per_message = len(single) / (time.perf_counter() - started)
        batched = [envelope(n) for n in range(messages)]
        started = time.perf_counter()
        for i in range(0, messages, batch):
            publisher.publish(batched[i : i + batch])
        per_batch = messages / (time.perf_counter() - started)
    finally:
        publisher.close()
    # The OrderShipped queue now holds these; clear it for the end-to-end run.
    connection = pika.BlockingConnection(pika.URLParameters(url))
    connection.channel().queue_purge("orderly.notifications.order_shipped")
    connection.close()
    return per_message, per_batch


def place_orders(container: Container, orders: int, threads: int = 4) -> None:
    place = container.place_order()
    per_thread = orders // threads

    def run(k: int) -> None:
        for n in range(per_thread):
            sku = SKUS[(k + n) % len(SKUS)]
            place(PlaceOrderCommand(f"customer-{k}", [RequestedLine(sku, 1)]))

    workers = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def end_to_end(env: dict[str, str], dbname: str, expected: int, threads: int) -> dict[str, float]:
    """Start relay and worker, time handler commits from the first to the `expected`th."""
    conn = psycopg.connect(f"host=127.0.0.1 user=postgres dbname={dbname}", autocommit=True)
    procs = [
        subprocess.Popen(
            [ORDERLY, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for args in (["worker", "--threads", str(threads)], ["relay"])
    ]
    try:
        first_at = first_count = None
        deadline = time.monotonic() + 600
        while True:
            row = conn.execute("SELECT count(*) FROM processed_events").fetchone()
            done = int(row[0]) if row else 0
            now = time.perf_counter()
            if done and first_at is None:
                first_at, first_count = now, done
                cpu_at_first = [cpu_seconds(p.pid) for p in procs]
            if done >= expected:
                break
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("the end-to-end run stalled or a process died")
            time.sleep(0.02)
        assert first_at is not None and first_count is not None
        elapsed = now - first_at
        cpu = [cpu_seconds(p.pid) - before for p, before in zip(procs, cpu_at_first, strict=True)]
        return {
            "events_per_s": (done - first_count) / elapsed,
            "elapsed": elapsed,
            "worker_cpu": cpu[0],
            "relay_cpu": cpu[1],
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1500)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=4, help="worker consumer threads")
    parser.add_argument("--batch", type=int, default=500, help="relay batch size")
    parser.add_argument(
        "--prefetch", type=int, default=None, help="ORDERLY_RABBITMQ_PREFETCH (default: its)"
    )
    args = parser.parse_args()

    suffix = uuid.uuid4().hex[:10]
    dbname, vhost = f"orderly_bench_{suffix}", f"orderly-bench-{suffix}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{dbname}"')
        rabbitmqctl("add_vhost", vhost)
    except (psycopg.OperationalError, subprocess.CalledProcessError, FileNotFoundError) as exc:
        print(f"skipped: needs PostgreSQL and RabbitMQ on this machine ({exc})")
        return 0
    url = f"{BROKER}/{vhost}"
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"
    container: Container | None = None
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        database = SqlDatabase.from_url(database_url)
        migrate.upgrade(database)
        database.dispose()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERLY_")}
        env.update(
            ORDERLY_DATABASE_URL=database_url,
            ORDERLY_MESSAGING="rabbitmq",
            ORDERLY_RABBITMQ_URL=url,
            ORDERLY_RELAY_BATCH_SIZE=str(args.batch),
            ORDERLY_LOG_LEVEL="WARNING",
        )
        if args.prefetch is not None:
            env["ORDERLY_RABBITMQ_PREFETCH"] = str(args.prefetch)
        container = build_container(Settings.from_env(env))
        load_before = os.getloadavg()[0]

        pub_rate, consume_rate = raw_reference(url, args.messages)
        raw_pipeline = 1 / (1 / pub_rate + 1 / consume_rate)
        per_message, per_batch = publisher_modes(url, container, args.messages, args.batch)

        for sku in SKUS:
            container.create_product()(CreateProductCommand(sku, sku, 1000, True, 10**9))
        place_orders(container, args.orders)
        orders = args.orders - args.orders % 4
        e2e = end_to_end(env, dbname, 2 * orders, args.threads)
        load_after = os.getloadavg()[0]
    finally:
        if container is not None:
            container.database().dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        rabbitmqctl("delete_vhost", vhost)

    print(f"load average {load_before:.1f} before, {load_after:.1f} after (2 cores)")
    print(f"reference, raw pika ({args.messages} x 300 B persistent, durable queue):")
    print(f"  publish, confirm per message   {pub_rate:10,.0f} msg/s")
    print(f"  consume, manual ack, prefetch 100 {consume_rate:7,.0f} msg/s")
    print(f"  pipeline (publish then consume) {raw_pipeline:8,.0f} msg/s")
    print("Orderly RabbitPublisher (event envelopes):")
    print(f"  confirm per event              {per_message:10,.0f} events/s")
    print(f"  batch of {args.batch}, then its confirms {per_batch:7,.0f} events/s"
          f"  ({per_batch / per_message:.1f}x)")  # fmt: skip
    print(f"end-to-end ({orders} orders, {2 * orders} handler deliveries, "
          f"worker --threads {args.threads}, PostgreSQL):")  # fmt: skip
    print(f"  outbox -> RabbitMQ -> worker -> handler committed "
          f"{e2e['events_per_s']:,.0f} events/s over {e2e['elapsed']:.1f} s")  # fmt: skip
    print(f"  CPU: worker {e2e['worker_cpu']:.1f} s, relay {e2e['relay_cpu']:.1f} s")
    print(f"ratio end-to-end / raw pika pipeline: {e2e['events_per_s'] / raw_pipeline:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
