"""Flat cost as data grows: POST and GET /v1/orders on a fresh database and on one with
ORDERS orders (and their lines, payments, inbox rows and events) already stored.

    .venv/bin/python -m benchmarks.bench_growth [--orders 200000] [--rounds 3] [--duration 10]
        [--conns 32] [--pg-workers 2] [--storage sqlite --storage postgres]

For each storage, two databases are prepared alike (migrate, a key, 100
products, bench_http_orders' helpers): two SQLite files, each in its own temp
directory, or two PostgreSQL databases on 127.0.0.1:5432,
`orderly_growth_<pid>_fresh` and `orderly_growth_<pid>_seeded`, dropped WITH
(FORCE) at the end, also when the run fails. Before any server starts, the
seeded one gets the orders through the project's own tables (compiled once, one
executemany per table per batch: adapters/sql/bulk.py); on PostgreSQL both then
get VACUUM ANALYZE, so they are treated alike, and each gets ANALYZE after each
of its POST rounds, as autovacuum would (it is off on the benchmark machine).
Both are then served at once by `orderly serve` (its defaults, rate limit
raised; `--pg-workers` workers on PostgreSQL) and measured with wrk as
bench_http_orders compares two servers: `--rounds` rounds of POST /v1/orders,
the two servers one after the other, fresh first in odd rounds and seeded first
in even ones, each server's outbox drained after its POST round (the backlog and
drain seconds are printed); then as many rounds of GET /v1/orders/{id} (one
order placed on each server), alternating alike. Rounds on a small machine swing
10-25 %, so each round's seeded / fresh ratio compares two runs taken side by
side, and `growth ratio POST X GET Y` is the median of those pairwise ratios (of
requests per second). It prints each round's rps, server CPU per request, p99
and non-2xx of both, the pairs, and the median CPU per request of both states.
Both databases also keep the orders their POST rounds place, so "fresh" ends a
run holding those.

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
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from adapters.sql.bulk import execute_many
from adapters.sql.database import SqlDatabase
from adapters.sql.tables import order_lines, orders, outbox, payments, processed_events
from adapters.system import UuidGenerator
from benchmarks.bench_http_orders import (
    BIN,
    BODY,
    LUA_GET,
    LUA_POST,
    _clean_up,
    _drain,
    _pg_admin,
    _port,
    _post,
    _prepare,
    _serving_env,
    _settle,
    _wait,
    _wrk,
)
from core.domain.events import EventEnvelope, OrderPaid, OrderPlaced

PG_URL = "postgresql://postgres@127.0.0.1:5432"
BATCH = 5000
STATES = ("fresh", "seeded")
VERBS = ("POST", "GET")

Results = dict[str, dict[str, list[dict[str, Any]]]]  # verb -> state -> one wrk result a round


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


def _serve(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """`orderly serve` on a free port; (the process, its base URL)."""
    port = _port()
    command = [str(BIN / "orderly"), "serve", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return server, f"http://127.0.0.1:{port}"


def _order(r: int) -> tuple[str, ...]:
    """Fresh first in odd rounds (1, 3, ..), seeded first in even ones, so neither
    always runs right after the other's load."""
    return STATES if r % 2 == 0 else STATES[::-1]


def _vacuum(name: str, statement: Literal["VACUUM ANALYZE", "ANALYZE"] = "VACUUM ANALYZE") -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/{name}", autocommit=True) as conn:
        conn.execute(statement)


def _list(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in values) + "]"


def _print_round(r: int, verb: str, results: Results) -> None:
    cells = []
    for state in STATES:
        m = results[verb][state][r]
        drain = f" drain {m['backlog']} in {m['drain_s']:.1f} s" if verb == "POST" else ""
        cells.append(
            f"{state} {m['rps']:7.0f}/s {m['cpu_ms']:5.2f} cpu-ms/req p99 {m['p99']:>8}"
            f" non-2xx {m['non2xx']}{drain}"
        )
    ratio = results[verb]["seeded"][r]["rps"] / results[verb]["fresh"][r]["rps"]
    print(f"  {r + 1} {verb:<4} {' | '.join(cells)} | ratio {ratio:.2f}")


def _summary(storage: str, results: Results) -> None:
    pairs = {
        verb: [
            seeded["rps"] / fresh["rps"]
            for fresh, seeded in zip(results[verb]["fresh"], results[verb]["seeded"], strict=True)
        ]
        for verb in VERBS
    }
    post, get = statistics.median(pairs["POST"]), statistics.median(pairs["GET"])
    print(f"{storage}: growth ratio POST {post:.2f} GET {get:.2f}")
    print(f"  pairs POST {_list(pairs['POST'])} GET {_list(pairs['GET'])}")
    bad = 0
    for verb in VERBS:
        cpu = {s: statistics.median(m["cpu_ms"] for m in results[verb][s]) for s in STATES}
        non2xx = {s: sum(m["non2xx"] for m in results[verb][s]) for s in STATES}
        bad += sum(non2xx.values())
        print(
            f"  {verb:<4} median cpu-ms/req fresh {cpu['fresh']:.2f} seeded {cpu['seeded']:.2f}"
            f"; non-2xx fresh {non2xx['fresh']} seeded {non2xx['seeded']}"
        )
    if bad:
        print(f"  WARNING: {bad} non-2xx responses; the ratios above count them as served")


def run_storage(storage: str, args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix=f"bench-growth-{storage}-"))
    workers = 1 if storage == "sqlite" else args.pg_workers
    created: list[str] = []
    servers: dict[str, subprocess.Popen[bytes]] = {}
    try:
        urls: dict[str, str] = {}
        names: dict[str, str] = {}  # PostgreSQL databases by state
        for state in STATES:
            (work / state).mkdir()  # _prepare writes its products.csv there
            if storage == "sqlite":
                urls[state] = f"sqlite:///{work / state}/orderly.db"
            else:
                name = names[state] = f"orderly_growth_{os.getpid()}_{state}"
                _pg_admin(PG_URL, "CREATE DATABASE {}", name)
                created.append(name)
                urls[state] = f"{PG_URL.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
        envs = {state: _serving_env(url) for state, url in urls.items()}
        keys, customers = {}, {}
        for state in STATES:
            keys[state], customers[state] = _prepare(envs[state], work / state)
        # Seeded before any server starts, so no server's start differs from the other's.
        seconds = seed(urls["seeded"], args.orders, customers["seeded"])
        for name in created:
            _vacuum(name)
        bases: dict[str, str] = {}
        for state in STATES:
            servers[state], bases[state] = _serve(envs[state], workers)
        for state in STATES:
            _wait(bases[state] + "/health/live")
        if workers > 1:
            for server in servers.values():
                _settle(server.pid)
        print(
            f"{storage}: seeded {args.orders:,} orders in {seconds:.1f} s; "
            f"wrk -c{args.conns} -d{args.duration}s, {args.rounds} rounds, "
            f"{workers} worker(s) each; fresh first in odd rounds, seeded in even ones"
        )
        results: Results = {verb: {state: [] for state in STATES} for verb in VERBS}
        for r in range(args.rounds):
            for state in _order(r):
                post = LUA_POST.format(key=keys[state], body=json.dumps(BODY))
                m = _wrk(bases[state] + "/v1/orders", post, args, servers[state].pid, work)
                m["backlog"], m["drain_s"] = _drain(envs[state], state)
                if storage == "postgres":
                    # What autovacuum's analyze would do (it may be off, as on the
                    # benchmark machine): the fresh database has just grown from
                    # nothing, and plans made on its empty tables' statistics would
                    # scan them, making "fresh" slow instead of the seeded one.
                    _vacuum(names[state], "ANALYZE")
                results["POST"][state].append(m)
            _print_round(r, "POST", results)
        placed = {state: _post(bases[state] + "/v1/orders", keys[state]) for state in STATES}
        for r in range(args.rounds):
            for state in _order(r):
                url = f"{bases[state]}/v1/orders/{placed[state]}"
                get = LUA_GET.format(key=keys[state])
                results["GET"][state].append(_wrk(url, get, args, servers[state].pid, work))
            _print_round(r, "GET", results)
        _summary(storage, results)
    finally:
        _clean_up(servers.values(), PG_URL, created, work)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--conns", type=int, default=32)
    parser.add_argument("--pg-workers", type=int, default=2)
    parser.add_argument("--storage", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install wrk")
    for storage in args.storage or ["sqlite", "postgres"]:
        run_storage(storage, args)


if __name__ == "__main__":
    main()
