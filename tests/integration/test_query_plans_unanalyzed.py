"""On PostgreSQL, the delivery path's batch statements read only the rows they ask for,
even on tables that were never analyzed.

test_query_plans.py proves that an index *can* serve each hot statement (it turns
sequential scans off). This proves the planner *does* use it where it matters most:
tables grown by a busy service while autovacuum is off, or has not run yet, so the
planner knows no statistics (this machine's server runs without autovacuum). There a
batch of 40 orders was joined with its lines by a sequential scan of every line, and
an inbox check read every event its handler had ever processed: costs that grew with
each order placed (docs/performance.md, "Plans without statistics").

Each statement runs once under EXPLAIN ANALYZE, as the adapters send it, on tables
seeded with a few thousand rows and never analyzed; the rows its scans read (returned
or filtered out) must stay proportional to the ids it was given, not to the tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, event

from adapters.sql import outbox as sql_outbox
from adapters.sql import queries as sql_queries
from adapters.sql.database import SqlDatabase
from adapters.sql.lists import ByDialect
from adapters.sql.repositories import statements as repos
from adapters.sql.tables import create_schema
from tests.conftest import fresh_postgres_database

pytestmark = pytest.mark.postgres

# Orders, each with 3 lines and reservations, a payment, 2 processed events and 2 sent
# outbox rows: enough that reading a whole table costs more than the lookups would.
ORDERS = 20000
WANTED = 40  # ids per batch, as a busy relay hands its handlers
NOW = datetime(2026, 1, 1, tzinfo=UTC)
SEED = f"""
INSERT INTO products (sku, name, price, currency, active, version, created_at, updated_at)
    SELECT 'SKU-' || n, 'P' || n, 100, 'EUR', true, 1, now(), now()
    FROM generate_series(1, 10) AS n;
INSERT INTO stock (sku, on_hand, reserved, version)
    SELECT 'SKU-' || n, 1000000, 0, 1 FROM generate_series(1, 10) AS n;
INSERT INTO orders (id, customer_id, status, currency, total, created_at, updated_at, version)
    SELECT 'o' || n, 'c' || (n %% 50), 'paid', 'EUR', 600, now(), now(), 2
    FROM generate_series(1, {ORDERS}) AS n;
INSERT INTO order_lines (order_id, position, sku, quantity, unit_price)
    SELECT 'o' || n, p, 'SKU-' || p, 2, 100
    FROM generate_series(1, {ORDERS}) AS n, generate_series(1, 3) AS p;
INSERT INTO stock_reservations (sku, order_id, quantity)
    SELECT 'SKU-' || p, 'o' || n, 2
    FROM generate_series(1, {ORDERS}) AS n, generate_series(1, 3) AS p;
INSERT INTO payments (order_id, amount, currency, charge_id, status, created_at, version)
    SELECT 'o' || n, 600, 'EUR', 'ch' || n, 'captured', now(), 1
    FROM generate_series(1, {ORDERS}) AS n;
INSERT INTO processed_events (handler, event_id, processed_at)
    SELECT h, 'e' || n, now()
    FROM generate_series(1, {ORDERS}) AS n, unnest(ARRAY['payments.charge', 'notify']) AS h;
INSERT INTO outbox (event_id, type, subject, occurred_at, correlation_id, schema_version,
                    payload, created_at, sent_at)
    SELECT 'e' || n || t, t, 'o' || n, now(), 'c', 1, '{{}}', now(), now()
    FROM generate_series(1, {ORDERS}) AS n, unnest(ARRAY['OrderPlaced', 'OrderPaid']) AS t;
"""
SEEDED = frozenset(
    {"orders", "order_lines", "payments", "processed_events", "outbox", "stock_reservations"}
)

ORDER_IDS = [f"o{n}" for n in range(1000, 1000 + WANTED)]
EVENT_IDS = [f"e{n}" for n in range(1000, 1000 + WANTED)]
# (name, statement, parameters, rows it may read): the delivery path's batches, and the
# request path's lookups of one order.
BATCHES: list[tuple[str, Any, dict[str, Any], int]] = [
    ("orders with lines (batch)", repos.ORDERS_GET_MANY, {"ids": ORDER_IDS}, 4 * WANTED),
    ("payments of orders (batch)", repos.PAYMENTS_GET_MANY, {"ids": ORDER_IDS}, WANTED),
    (
        "inbox seen (batch)",
        repos.INBOX_SEEN_MANY,
        {"handler": "payments.charge", "event_ids": EVENT_IDS},
        WANTED,
    ),
    ("order with lines (command)", repos.ORDER_GET, {"id": "o7"}, 4),
    ("order with lines (read)", sql_queries._ORDER_WITH_LINES, {"id": "o7"}, 4),
    ("lines of orders (list page)", sql_queries._LINES_OF, {"ids": ORDER_IDS[:20]}, 60),
    ("events of an order", sql_queries._EVENTS_OF, {"subject": "o7"}, 2),
    ("reservations of an order", repos.RESERVATIONS_OF_ORDER, {"order_id": "o7"}, 3),
    ("relay claim", sql_outbox._CLAIM_LOCKED, {"limit": 100, "now": NOW}, 0),
]


@pytest.fixture(scope="module")
def database() -> Iterator[SqlDatabase]:
    """Orderly's tables, seeded and never analyzed (a fresh database: no statistics).
    The statements below only read (and roll back their row locks): seeded once."""
    with fresh_postgres_database() as url:
        database = SqlDatabase.from_url(url)
        create_schema(database.engine)
        with database.engine.begin() as conn:
            conn.exec_driver_sql(SEED)
        try:
            yield database
        finally:
            database.dispose()


def _rows_read(plan: dict[str, Any]) -> int:
    """Rows the plan's scans of the seeded tables read: kept or filtered out."""
    read = 0
    if plan.get("Relation Name") in SEEDED:
        loops = plan.get("Actual Loops", 1)
        read += plan.get("Actual Rows", 0) * loops
        for removed in ("Rows Removed by Filter", "Rows Removed by Index Recheck"):
            read += plan.get(removed, 0) * loops
    for child in plan.get("Plans", []):
        read += _rows_read(child)
    return read


def _explained(conn: Connection, statement: Any, params: dict[str, Any]) -> dict[str, Any]:
    plans: list[dict[str, Any]] = []

    def explain(conn: Any, cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, parameters)
        document = cursor.fetchone()[0]
        plans.append((json.loads(document) if isinstance(document, str) else document)[0])

    event.listen(conn, "before_cursor_execute", explain)
    try:
        conn.execute(statement, params)
    finally:
        event.remove(conn, "before_cursor_execute", explain)
    assert len(plans) == 1
    return plans[0]


@pytest.mark.parametrize(
    ("statement", "params", "limit"),
    [pytest.param(s, p, n, id=name) for name, s, p, n in BATCHES],
)
def test_batches_read_only_the_rows_they_ask_for(
    database: SqlDatabase, statement: Any, params: dict[str, Any], limit: int
) -> None:
    with database.engine.connect() as conn:
        if isinstance(statement, ByDialect):
            statement = statement.of(conn.dialect)
        plan = _explained(conn, statement, params)
        conn.rollback()
    read = _rows_read(plan["Plan"])
    assert read <= limit, f"read {read} rows for {limit}:\n{json.dumps(plan, indent=1)[:4000]}"
