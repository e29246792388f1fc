"""Flat cost as data grows: POST and GET /v1/orders on a fresh database and on one with
ORDERS orders (and their lines, payments, inbox rows and events) already stored.

    .venv/bin/python -m benchmarks.bench_growth [--orders 200000] [--duration 10] [--conns 32]
                                                [--storage sqlite --storage postgres]

For each storage (a temp SQLite file; a PostgreSQL database created on
127.0.0.1:5432 and dropped at the end), in one run: migrate, create a key and
100 products, serve with `orderly serve` (its defaults, rate limit raised) and
measure POST /v1/orders and GET /v1/orders/{id} with wrk (bench_http_orders'
helpers); stop the server, seed the orders through the project's own tables
(compiled once, one executemany per table per batch: adapters/sql/bulk.py),
serve again and measure again. Prints requests/second and server CPU per
request for both states and `growth ratio POST X GET Y` (seeded / fresh rps).

The seeded orders are shaped like the ones the API makes: 3 lines, paid or
shipped or cancelled, a payment, OrderPlaced and OrderPaid events in the outbox
(sent) and the two handlers' inbox rows; a tenth belong to the benchmark's key.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.sql.bulk import execute_many
from adapters.sql.database import SqlDatabase
from adapters.sql.tables import order_lines, orders, outbox, payments, processed_events
from adapters.system import UuidGenerator
from benchmarks.bench_http_orders import (
    BIN,
    BODY,
    LUA_GET,
    LUA_POST,
    _port,
    _post,
    _prepare,
    _serving_env,
    _wait,
    _wrk,
)
from core.domain.events import EventEnvelope, OrderPaid, OrderPlaced

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
BATCH = 5000


def seed(url: str, count: int, customer: str) -> float:
    """Store `count` orders with their lines, payments, inbox rows and events; seconds taken."""
    started = time.perf_counter()
    database = SqlDatabase.from_url(url)
    ids, rng = UuidGenerator(), random.Random(7)
    start = datetime.now(UTC) - timedelta(days=30)
    try:
        for first in range(0, count, BATCH):
            rows: dict[Any, list[dict[str, Any]]] = {
                orders: [],
                order_lines: [],
                payments: [],
                processed_events: [],
                outbox: [],
            }
            for n in range(first, min(first + BATCH, count)):
                at = start + timedelta(seconds=n * 10)
                order_id = ids.new_id()
                owner = customer if n % 10 == 0 else f"customer-{n % 997}"
                status = ("paid", "shipped", "shipped", "cancelled")[n % 4]
                lines: list[dict[str, Any]] = [
                    {"sku": f"SKU-{rng.randint(1, 100):06d}", "quantity": q, "unit_price": 1000}
                    for q in (1, 2, 3)
                ]
                total = sum(ln["quantity"] * ln["unit_price"] for ln in lines)
                rows[orders].append(
                    {
                        "id": order_id,
                        "customer_id": owner,
                        "status": status,
                        "currency": "EUR",
                        "total": total,
                        "cancel_reason": "customer_request" if status == "cancelled" else None,
                        "created_at": at,
                        "updated_at": at,
                        "version": 2,
                    }
                )
                rows[order_lines] += [
                    {"order_id": order_id, "position": p, **ln} for p, ln in enumerate(lines)
                ]
                rows[payments].append(
                    {
                        "order_id": order_id,
                        "amount": total,
                        "currency": "EUR",
                        "charge_id": f"ch_{order_id}",
                        "status": "refunded" if status == "cancelled" else "captured",
                        "created_at": at,
                        "refund_id": f"re_{order_id}" if status == "cancelled" else None,
                        "refunded_at": at if status == "cancelled" else None,
                        "version": 1,
                    }
                )
                events = [
                    OrderPlaced(at, order_id, owner, total, "EUR", lines),
                    OrderPaid(at, order_id, owner, total, "EUR"),
                ]
                for event in events:
                    envelope = EventEnvelope.wrap(event, ids.new_id(), ids.new_id())
                    rows[outbox].append(
                        {
                            "event_id": envelope.event_id,
                            "type": envelope.type,
                            "subject": envelope.subject,
                            "occurred_at": at,
                            "correlation_id": envelope.correlation_id,
                            "schema_version": envelope.schema_version,
                            "payload": envelope.payload,
                            "created_at": at,
                            "claimed_until": None,
                            "sent_at": at,
                            "trace_context": None,
                        }
                    )
                    handler = "charge" if event.type_name == "OrderPlaced" else "notify"
                    rows[processed_events].append(
                        {"handler": handler, "event_id": envelope.event_id, "processed_at": at}
                    )
            with database.write() as conn:
                for table, batch in rows.items():
                    execute_many(conn, table.insert(), batch)
    finally:
        database.dispose()
    return time.perf_counter() - started


def measure(
    env: dict[str, str], key: str, args: argparse.Namespace, work: Path, workers: int
) -> dict[str, dict[str, Any]]:
    port = _port()
    command = [str(BIN / "orderly"), "serve", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(base + "/health/live")
        post = _wrk(
            base + "/v1/orders",
            LUA_POST.format(key=key, body=json.dumps(BODY)),
            args,
            server.pid,
            work,
        )
        order = _post(base + "/v1/orders", key)
        get = _wrk(f"{base}/v1/orders/{order}", LUA_GET.format(key=key), args, server.pid, work)
        return {"POST": post, "GET": get}
    finally:
        server.terminate()
        server.wait(30)


def run_storage(storage: str, args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"bench-growth-{storage}-"))
    pg_name = f"orderly_growth_{os.getpid()}"
    if storage == "sqlite":
        url = f"sqlite:///{work}/orderly.db"
    else:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
    env = _serving_env(url)
    workers = 1 if storage == "sqlite" else args.pg_workers
    try:
        key, customer = _prepare(env, work)
        fresh = measure(env, key, args, work, workers)
        seconds = seed(url, args.orders, customer)
        if storage == "postgres":
            import psycopg

            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
        grown = measure(env, key, args, work, workers)
        print(
            f"{storage}: seeded {args.orders:,} orders in {seconds:.1f} s; "
            f"wrk -c{args.conns} -d{args.duration}s, {workers} worker(s)"
        )
        for verb in ("POST", "GET"):
            a, b = fresh[verb], grown[verb]
            print(
                f"  {verb:<4} fresh {a['rps']:8.0f}/s {a['cpu_ms']:6.2f} cpu-ms/req p99 {a['p99']}"
                f" | seeded {b['rps']:8.0f}/s {b['cpu_ms']:6.2f} cpu-ms/req p99 {b['p99']}"
                f" | non-2xx {a['non2xx']}/{b['non2xx']}"
            )
        post = grown["POST"]["rps"] / fresh["POST"]["rps"]
        get = grown["GET"]["rps"] / fresh["GET"]["rps"]
        print(f"{storage}: growth ratio POST {post:.2f} GET {get:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if storage == "postgres":
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--conns", type=int, default=32)
    parser.add_argument("--pg-workers", type=int, default=2)
    parser.add_argument("--storage", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install wrk")
    for storage in args.storage or ["sqlite", "postgres"]:
        run_storage(storage, args)


if __name__ == "__main__":
    main()
