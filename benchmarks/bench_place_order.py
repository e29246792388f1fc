"""Place order: the PlaceOrder use case on SQLite (WAL) against raw sqlite3, in one run.

Measured on fresh database files migrated the same way, one thread, orders of
3 lines on 3 SKUs with plenty of stock:

- orderly:    PlaceOrder through SqlUnitOfWorkFactory: validation, domain objects,
              Core statements through the explicit mapping, the outbox row.
- reference:  raw sqlite3 with the same pragmas sending the same 8 statements the
              adapter sends for one order (BEGIN IMMEDIATE; the products read; the
              locked stock read; the order; its lines, the versioned stock UPDATEs
              and the reservation INSERTs as three executemany; the outbox row;
              COMMIT), with no domain model around them.
- minimal:    raw sqlite3, the shape quoted in issue 3 (one conditional stock
              UPDATE, the order row, 3 line rows, 1 outbox row): a floor.

Prints orders/second by wall clock and by this process's CPU time (CPU time
shows the work itself when other processes share the cores), the median of
several rounds, and the orderly/reference ratios.

    .venv/bin/python -m benchmarks.bench_place_order [--orders 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from adapters.sql import migrate
from adapters.sql.database import SqlDatabase
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from adapters.system import SystemClock, UuidGenerator
from core.domain.orders import RequestedLine
from core.use_cases.catalog import CreateProduct, CreateProductCommand
from core.use_cases.ordering import PlaceOrder, PlaceOrderCommand

SKUS = ["BENCH-A", "BENCH-B", "BENCH-C"]
PRICE = 250
PLENTY = 100_000_000

Rate = tuple[float, float]  # orders per wall second, orders per CPU second


def fresh_database(folder: Path, name: str) -> Path:
    """A migrated SQLite file with the three products and plenty of stock."""
    path = folder / f"{name}.db"
    database = SqlDatabase.from_url(f"sqlite:///{path}")
    migrate.upgrade(database)
    factory = SqlUnitOfWorkFactory(database, UuidGenerator(), SystemClock())
    create = CreateProduct(factory, SystemClock(), "EUR")
    for sku in SKUS:
        create(CreateProductCommand(sku, f"Product {sku}", PRICE, on_hand=PLENTY))
    database.dispose()
    return path


def measure(place_one: Callable[[int], None], orders: int, rounds: int) -> Rate:
    for n in range(200):  # warm caches: compiled statements, the page cache
        place_one(n)
    walls, cpus = [], []
    for r in range(rounds):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        for n in range(orders):
            place_one(1000 + r * orders + n)
        walls.append(orders / (time.perf_counter() - start_wall))
        cpus.append(orders / max(time.process_time() - start_cpu, 1e-9))
    return statistics.median(walls), statistics.median(cpus)


def orderly(path: Path) -> tuple[Callable[[int], None], Callable[[], None]]:
    database = SqlDatabase.from_url(f"sqlite:///{path}")
    factory = SqlUnitOfWorkFactory(database, UuidGenerator(), SystemClock())
    place = PlaceOrder(factory, SystemClock(), UuidGenerator(), "EUR")
    lines = [RequestedLine(sku, 1) for sku in SKUS]

    def place_one(n: int) -> None:
        place(PlaceOrderCommand(f"customer-{n % 100}", lines))

    return place_one, database.dispose


def _raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "busy_timeout=10000",
    ):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def _stamp() -> str:
    """The timestamp text the adapter stores on SQLite (naive UTC, fixed width)."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _outbox_row(order_id: str, now: str) -> tuple[object, ...]:
    payload = {
        "order_id": order_id,
        "customer_id": "customer",
        "total": PRICE * len(SKUS),
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unit_price": PRICE} for sku in SKUS],
    }
    return (str(uuid.uuid4()), "OrderPlaced", order_id, now, str(uuid.uuid4()), 1,
            json.dumps(payload), now)  # fmt: skip


_INSERT_ORDER = (
    "INSERT INTO orders (id, customer_id, status, currency, total, cancel_reason, "
    "created_at, updated_at, version) VALUES (?, ?, 'pending_payment', 'EUR', ?, NULL, ?, ?, 1)"
)
_INSERT_LINE = (
    "INSERT INTO order_lines (order_id, position, sku, quantity, unit_price) VALUES (?, ?, ?, 1, ?)"
)
_INSERT_OUTBOX = (
    "INSERT INTO outbox (event_id, type, subject, occurred_at, correlation_id, schema_version, "
    "payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def reference(path: Path) -> tuple[Callable[[int], None], Callable[[], None]]:
    conn = _raw_connection(path)
    marks = ", ".join("?" for _ in SKUS)

    def place_one(n: int) -> None:
        order_id, now = str(uuid.uuid4()), _stamp()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            f"SELECT sku, name, price, currency, active, version, created_at, updated_at "
            f"FROM products WHERE sku IN ({marks}) ORDER BY sku",
            SKUS,
        ).fetchall()
        stock = conn.execute(
            "SELECT stock.sku, stock.on_hand, stock.reserved, stock.version, r.quantity "
            "FROM stock LEFT OUTER JOIN stock_reservations AS r "
            "ON r.sku = stock.sku AND r.order_id = ? "
            f"WHERE stock.sku IN ({marks}) ORDER BY stock.sku",
            [order_id, *SKUS],
        ).fetchall()
        updates = []
        for sku, on_hand, reserved, version, _held in stock:
            if on_hand - reserved < 1:
                raise RuntimeError("out of stock")
            updates.append((on_hand, reserved + 1, version + 1, sku, version))
        conn.execute(_INSERT_ORDER, (order_id, f"customer-{n % 100}", PRICE * 3, now, now))
        conn.executemany(
            _INSERT_LINE, [(order_id, position, sku, PRICE) for position, sku in enumerate(SKUS)]
        )
        cursor = conn.executemany(
            "UPDATE stock SET on_hand = ?, reserved = ?, version = ? WHERE sku = ? AND version = ?",
            updates,
        )
        assert cursor.rowcount == len(updates)
        conn.executemany(
            "INSERT INTO stock_reservations (sku, order_id, quantity) VALUES (?, ?, 1)",
            [(sku, order_id) for sku in SKUS],
        )
        conn.execute(_INSERT_OUTBOX, _outbox_row(order_id, now))
        conn.execute("COMMIT")

    return place_one, conn.close


def minimal(path: Path) -> tuple[Callable[[int], None], Callable[[], None]]:
    conn = _raw_connection(path)

    def place_one(n: int) -> None:
        order_id, now = str(uuid.uuid4()), _stamp()
        conn.execute("BEGIN IMMEDIATE")
        cursor = conn.execute(
            "UPDATE stock SET reserved = reserved + 1 WHERE sku = ? AND on_hand - reserved >= 1",
            (SKUS[0],),
        )
        assert cursor.rowcount == 1
        conn.execute(_INSERT_ORDER, (order_id, f"customer-{n % 100}", PRICE * 3, now, now))
        conn.executemany(
            _INSERT_LINE, [(order_id, position, sku, PRICE) for position, sku in enumerate(SKUS)]
        )
        conn.execute(_INSERT_OUTBOX, _outbox_row(order_id, now))
        conn.execute("COMMIT")

    return place_one, conn.close


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000, help="orders per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, Rate] = {}
    with tempfile.TemporaryDirectory(prefix="orderly-bench-") as folder:
        for name, build in (("orderly", orderly), ("reference", reference), ("minimal", minimal)):
            place_one, close = build(fresh_database(Path(folder), name))
            try:
                results[name] = measure(place_one, args.orders, args.rounds)
            finally:
                close()
    print(f"PlaceOrder, 3 lines, SQLite WAL; median of {args.rounds} rounds of {args.orders}")
    print(f"{'':<42}{'orders/s (wall)':>16}{'orders/s (CPU)':>16}")
    labels = {
        "orderly": "orderly PlaceOrder use case",
        "reference": "raw sqlite3, same statements",
        "minimal": "raw sqlite3, issue 3's minimal shape",
    }
    for name, (wall, cpu) in results.items():
        print(f"{labels[name]:<42}{wall:>16,.0f}{cpu:>16,.0f}")
    (ow, oc), (rw, rc) = results["orderly"], results["reference"]
    mw, mc = results["minimal"]
    print(f"{'ratio orderly / same statements':<42}{ow / rw:>16.2f}{oc / rc:>16.2f}")
    print(f"{'ratio orderly / minimal shape':<42}{ow / mw:>16.2f}{oc / mc:>16.2f}")


if __name__ == "__main__":
    main()
