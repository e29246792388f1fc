"""The flat reference for `bench_http_orders`: the request work of POST and GET
/v1/orders in two plain Litestar handlers over one raw sqlite3 connection, or
one psycopg connection per process when REF_PG is set.

No layers, no middleware, no saga, no logs: key lookup by SHA-256, line checks,
price lookup and a conditional stock UPDATE per line, the order, its lines and
one outbox row in one transaction, a 201 JSON body; GET reads the order and its
lines for its owner. Served by uvicorn: `uvicorn benchmarks.flat_reference:app`,
with REF_DB naming the SQLite file (REF_KEY the customer's key).

With REF_PG=postgresql://... the same two handlers run over PostgreSQL instead
(REF_DB is then unused), one autocommit psycopg connection per process, so
`uvicorn --workers N` gives N connections. Each process creates the schema and
the seed rows if missing, in one transaction under an advisory lock (workers
start together). A placement is one explicit transaction at READ COMMITTED:
the conditional UPDATE locks the stock row and re-checks `on_hand - reserved`
on the latest version when it had to wait, so it needs no retry, and the lines
are taken in SKU order (as Orderly locks them) so two placements cannot
deadlock. The handlers block the event loop on the database, as the SQLite
ones do: one request at a time per process.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import psycopg
from litestar import Litestar, Request, get, post
from litestar.exceptions import HTTPException
from psycopg.types.json import Jsonb

KEY = os.environ.get("REF_KEY", "reference-key-0123456789abcdef0123456789")
SKUS = 100
PG_URL = os.environ.get("REF_PG")  # set: PostgreSQL (the handlers at the end of this file)

if PG_URL is None:
    _db = sqlite3.connect(os.environ.get("REF_DB", "reference.db"), isolation_level=None)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "busy_timeout=5000",
    ):
        _db.execute(f"PRAGMA {pragma}")
    _db.executescript(
        """
        CREATE TABLE IF NOT EXISTS principals (id TEXT PRIMARY KEY, key_hash TEXT UNIQUE);
        CREATE TABLE IF NOT EXISTS products (sku TEXT PRIMARY KEY, price INTEGER, active INTEGER);
        CREATE TABLE IF NOT EXISTS stock (sku TEXT PRIMARY KEY REFERENCES products(sku),
            on_hand INTEGER, reserved INTEGER);
        CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, customer_id TEXT, status TEXT,
            total INTEGER, created_at TEXT, version INTEGER);
        CREATE TABLE IF NOT EXISTS order_lines (order_id TEXT REFERENCES orders(id), sku TEXT,
            quantity INTEGER, unit_price INTEGER);
        CREATE INDEX IF NOT EXISTS order_lines_order_id ON order_lines(order_id);
        CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, type TEXT, payload TEXT,
            created_at TEXT);
        """
    )
    _db.execute(
        "INSERT OR IGNORE INTO principals VALUES ('customer-1', ?)",
        (hashlib.sha256(KEY.encode()).hexdigest(),),
    )
    for n in range(1, SKUS + 1):
        _db.execute("INSERT OR IGNORE INTO products VALUES (?, 1000, 1)", (f"SKU-{n:06d}",))
        _db.execute("INSERT OR IGNORE INTO stock VALUES (?, 1000000000, 0)", (f"SKU-{n:06d}",))


class LineIn(msgspec.Struct):
    sku: str
    quantity: int


class OrderIn(msgspec.Struct):
    lines: list[LineIn]


def _refuse_invalid(data: OrderIn) -> None:
    if not 1 <= len(data.lines) <= 100 or any(not 1 <= ln.quantity <= 1000 for ln in data.lines):
        raise HTTPException(status_code=422)


def _order_out(
    order: tuple[Any, ...], lines: list[dict[str, Any]], created_at: str
) -> dict[str, Any]:
    """The 201/200 body: `order` is (id, customer_id, status, total, version)."""
    order_id, customer, status, total, version = order
    return {
        "id": order_id,
        "customer_id": customer,
        "status": status,
        "lines": lines,
        "total": total,
        "currency": "EUR",
        "version": version,
        "created_at": created_at,
    }


def _lines_out(rows: Any) -> list[dict[str, Any]]:
    return [{"sku": sku, "quantity": q, "unit_price": p, "line_total": q * p} for sku, q, p in rows]


def _customer(request: Request[Any, Any, Any]) -> str:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    digest = hashlib.sha256(token.encode()).hexdigest()
    row = _db.execute("SELECT id FROM principals WHERE key_hash = ?", (digest,)).fetchone()
    if row is None:
        raise HTTPException(status_code=401)
    return str(row[0])


@post("/v1/orders")
async def place(request: Request[Any, Any, Any], data: OrderIn) -> dict[str, Any]:
    customer = _customer(request)
    _refuse_invalid(data)
    order_id, now = str(uuid.uuid4()), datetime.now(UTC).isoformat()
    lines, total = [], 0
    _db.execute("BEGIN IMMEDIATE")
    try:
        for ln in data.lines:
            price = _db.execute(
                "SELECT price FROM products WHERE sku = ? AND active = 1", (ln.sku,)
            ).fetchone()
            moved = _db.execute(
                "UPDATE stock SET reserved = reserved + ?"
                " WHERE sku = ? AND on_hand - reserved >= ?",
                (ln.quantity, ln.sku, ln.quantity),
            ).rowcount
            if price is None or moved != 1:
                raise HTTPException(status_code=409)
            lines.append({"sku": ln.sku, "quantity": ln.quantity, "unit_price": price[0]})
            total += price[0] * ln.quantity
        _db.execute(
            "INSERT INTO orders VALUES (?, ?, 'pending_payment', ?, ?, 1)",
            (order_id, customer, total, now),
        )
        _db.executemany(
            "INSERT INTO order_lines VALUES (?, ?, ?, ?)",
            [(order_id, x["sku"], x["quantity"], x["unit_price"]) for x in lines],
        )
        _db.execute(
            "INSERT INTO outbox VALUES (?, 'OrderPlaced', ?, ?)",
            (str(uuid.uuid4()), json.dumps({"order_id": order_id, "lines": lines}), now),
        )
        _db.execute("COMMIT")
    except BaseException:
        _db.execute("ROLLBACK")
        raise
    return _order_out((order_id, customer, "pending_payment", total, 1), lines, now)


@get("/v1/orders/{order_id:str}")
async def one(request: Request[Any, Any, Any], order_id: str) -> dict[str, Any]:
    customer = _customer(request)
    row = _db.execute(
        "SELECT id, customer_id, status, total, created_at, version FROM orders WHERE id = ?",
        (order_id,),
    ).fetchone()
    if row is None or row[1] != customer:
        raise HTTPException(status_code=404)
    lines = _lines_out(
        _db.execute(
            "SELECT sku, quantity, unit_price FROM order_lines WHERE order_id = ?", (order_id,)
        )
    )
    return _order_out((row[0], row[1], row[2], row[3], row[5]), lines, row[4])


PG_SCHEMA = """
    CREATE TABLE IF NOT EXISTS principals (id TEXT PRIMARY KEY, key_hash TEXT UNIQUE);
    CREATE TABLE IF NOT EXISTS products (sku TEXT PRIMARY KEY, price BIGINT, active BOOLEAN);
    CREATE TABLE IF NOT EXISTS stock (sku TEXT PRIMARY KEY REFERENCES products(sku),
        on_hand BIGINT, reserved BIGINT);
    CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, customer_id TEXT, status TEXT,
        total BIGINT, created_at TIMESTAMPTZ, version INTEGER);
    CREATE TABLE IF NOT EXISTS order_lines (order_id TEXT REFERENCES orders(id), sku TEXT,
        quantity INTEGER, unit_price BIGINT);
    CREATE INDEX IF NOT EXISTS order_lines_order_id ON order_lines(order_id);
    CREATE TABLE IF NOT EXISTS outbox (id TEXT PRIMARY KEY, type TEXT, payload JSONB,
        created_at TIMESTAMPTZ);
"""
SETUP_LOCK = 0x0F1A7  # advisory lock key: the workers create the schema one at a time


def _pg_connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    """This process's connection; creates the schema and seed rows if they are missing."""
    conn = psycopg.connect(url, autocommit=True)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SETUP_LOCK,))
        conn.execute(PG_SCHEMA)
        conn.execute(
            "INSERT INTO principals VALUES ('customer-1', %s) ON CONFLICT DO NOTHING",
            (hashlib.sha256(KEY.encode()).hexdigest(),),
        )
        skus = [(f"SKU-{n:06d}",) for n in range(1, SKUS + 1)]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO products VALUES (%s, 1000, true) ON CONFLICT DO NOTHING", skus
            )
            cur.executemany(
                "INSERT INTO stock VALUES (%s, 1000000000, 0) ON CONFLICT DO NOTHING", skus
            )
    return conn


if PG_URL is not None:
    _pg = _pg_connect(PG_URL)


def _pg_customer(request: Request[Any, Any, Any]) -> str:
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    digest = hashlib.sha256(token.encode()).hexdigest()
    row = _pg.execute("SELECT id FROM principals WHERE key_hash = %s", (digest,)).fetchone()
    if row is None:
        raise HTTPException(status_code=401)
    return str(row[0])


@post("/v1/orders")
async def place_pg(request: Request[Any, Any, Any], data: OrderIn) -> dict[str, Any]:
    customer = _pg_customer(request)
    _refuse_invalid(data)
    order_id, now = str(uuid.uuid4()), datetime.now(UTC)
    lines, total = [], 0
    # BEGIN ... COMMIT (ROLLBACK when anything raises, the 409 included).
    with _pg.transaction():
        for ln in sorted(data.lines, key=lambda ln: ln.sku):
            price = _pg.execute(
                "SELECT price FROM products WHERE sku = %s AND active", (ln.sku,)
            ).fetchone()
            moved = _pg.execute(
                "UPDATE stock SET reserved = reserved + %s"
                " WHERE sku = %s AND on_hand - reserved >= %s",
                (ln.quantity, ln.sku, ln.quantity),
            ).rowcount
            if price is None or moved != 1:
                raise HTTPException(status_code=409)
            lines.append({"sku": ln.sku, "quantity": ln.quantity, "unit_price": price[0]})
            total += price[0] * ln.quantity
        _pg.execute(
            "INSERT INTO orders VALUES (%s, %s, 'pending_payment', %s, %s, 1)",
            (order_id, customer, total, now),
        )
        with _pg.cursor() as cur:
            cur.executemany(
                "INSERT INTO order_lines VALUES (%s, %s, %s, %s)",
                [(order_id, x["sku"], x["quantity"], x["unit_price"]) for x in lines],
            )
        _pg.execute(
            "INSERT INTO outbox VALUES (%s, 'OrderPlaced', %s, %s)",
            (str(uuid.uuid4()), Jsonb({"order_id": order_id, "lines": lines}), now),
        )
    return _order_out((order_id, customer, "pending_payment", total, 1), lines, now.isoformat())


@get("/v1/orders/{order_id:str}")
async def one_pg(request: Request[Any, Any, Any], order_id: str) -> dict[str, Any]:
    customer = _pg_customer(request)
    row = _pg.execute(
        "SELECT id, customer_id, status, total, created_at, version FROM orders WHERE id = %s",
        (order_id,),
    ).fetchone()
    if row is None or row[1] != customer:
        raise HTTPException(status_code=404)
    lines = _lines_out(
        _pg.execute(
            "SELECT sku, quantity, unit_price FROM order_lines WHERE order_id = %s", (order_id,)
        )
    )
    return _order_out((row[0], row[1], row[2], row[3], row[5]), lines, row[4].isoformat())


app = Litestar(route_handlers=[place, one] if PG_URL is None else [place_pg, one_pg], debug=False)
