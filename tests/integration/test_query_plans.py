"""Every hot statement (request path, delivery path) is served by an index, on both databases.

Each statement is run as the adapters run it, and the engine's own plan for it is
captured on the way (EXPLAIN QUERY PLAN on SQLite; EXPLAIN with enable_seqscan off
on PostgreSQL, so an index that can serve the statement is always chosen and a
statement that has none shows a Seq Scan). A cost that grows with the tables
(a full scan per order placed or read) fails here instead of in production.

On SQLite a SCAN is accepted only in index order on a statement that stops after
LIMIT rows, or on the outbox's partial index of unsent rows (only the backlog).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event

from adapters.sql import outbox as sql_outbox
from adapters.sql import queries as sql_queries
from adapters.sql import webhook_queries
from adapters.sql.database import SqlDatabase
from adapters.sql.lists import ByDialect
from adapters.sql.repositories import statements as repos
from core.domain.webhooks import CatchUp
from core.ports.queries import OrderKey
from tests.integration.sql_shop import SQL_BACKENDS, schema_database

NOW = datetime(2026, 1, 1, tzinfo=UTC)

# (name, statement, parameters): what the repositories, the read side and the relay send.
HOT: list[tuple[str, Any, dict[str, Any]]] = [
    ("product by sku", repos.PRODUCT_GET, {"sku": "A"}),
    ("products by skus", repos.PRODUCTS_MANY, {"skus": ["A", "B"]}),
    ("products by skus, unlocked", repos.PRODUCTS_MANY_UNLOCKED, {"skus": ["A", "B"]}),
    ("stock by sku", repos.STOCK_GET, {"sku": "A"}),
    ("stock by skus", repos.STOCK_MANY, {"skus": ["A", "B"]}),
    ("reservations of an order", repos.RESERVATIONS_OF_ORDER, {"order_id": "o"}),
    (
        "stock update",
        repos.STOCK_UPDATE,
        {"k_sku": "A", "k_version": 1, "on_hand": 1, "reserved": 0, "version": 2},
    ),
    (
        "product update",
        repos.PRODUCT_UPDATE,
        {"k_sku": "A", "k_version": 1, "name": "n", "version": 2, "updated_at": NOW},
    ),
    (
        "reservation update",
        repos.RESERVATION_UPDATE,
        {"k_sku": "A", "k_order_id": "o", "quantity": 1},
    ),
    ("reservation delete", repos.RESERVATION_DELETE, {"sku": "A", "order_id": "o"}),
    ("order with lines (command)", repos.ORDER_GET, {"id": "o"}),
    (
        "order update",
        repos.ORDER_UPDATE,
        {"k_id": "o", "k_version": 1, "status": "paid", "updated_at": NOW, "version": 2},
    ),
    ("expiry sweep", repos.ORDERS_PENDING, {"cutoff": NOW, "limit": 100}),
    ("payment by order", repos.PAYMENT_GET, {"order_id": "o"}),
    (
        "payment update",
        repos.PAYMENT_UPDATE,
        {"k_order_id": "o", "k_version": 1, "status": "refunded", "version": 2},
    ),
    ("principal by id", repos.PRINCIPAL_BY["id"], {"value": "p"}),
    ("principal by name", repos.PRINCIPAL_BY["name"], {"value": "p"}),
    ("principal by key hash", repos.PRINCIPAL_BY["key_hash"], {"value": "h"}),
    ("principal update", repos.PRINCIPAL_UPDATE, {"k_id": "p", "k_version": 1, "version": 2}),
    ("idempotency key", repos.IDEMPOTENCY_GET, {"principal_id": "p", "key": "k"}),
    ("idempotency purge", repos.IDEMPOTENCY_PURGE, {"cutoff": NOW}),
    ("inbox seen", repos.INBOX_SEEN_MANY, {"handler": "h", "event_ids": ["e", "f"]}),
    ("orders with lines (batch)", repos.ORDERS_GET_MANY, {"ids": ["o", "p"]}),
    ("payments of orders (batch)", repos.PAYMENTS_GET_MANY, {"ids": ["o", "p"]}),
    ("product view", sql_queries._PRODUCT_ONE, {"sku": "A"}),
    ("stock view", sql_queries._STOCK_ONE, {"sku": "A"}),
    ("order with lines (read)", sql_queries._ORDER_WITH_LINES, {"id": "o"}),
    ("lines of orders", sql_queries._LINES_OF, {"ids": ["o", "p"]}),
    ("events of an order", sql_queries._EVENTS_OF, {"subject": "o"}),
    ("key lookup (read)", sql_queries._PRINCIPAL_BY_KEY, {"value": "h"}),
    ("outbox backlog", sql_queries._OUTBOX_BACKLOG, {}),
    ("relay claim (row locks)", sql_outbox._CLAIM_LOCKED, {"limit": 100, "now": NOW}),
    ("relay claim (lease)", sql_outbox._CLAIMABLE, {"limit": 100, "now": NOW}),
    ("relay lease", sql_outbox._SET_LEASE, {"positions": [1, 2], "until": NOW}),
    ("relay mark sent", sql_outbox._MARK_SENT, {"positions": [1, 2], "sent_at": NOW}),
    ("relay release", sql_outbox._RELEASE, {"positions": [1, 2]}),
    ("webhooks due", webhook_queries.due_statement(NOW, 100), {}),
    (
        "webhook catch-up",
        webhook_queries.missed_statement(
            CatchUp("s", ("o", "p"), ("OrderPlaced",), NOW, NOW, frozenset({"e"}))
        ),
        {},
    ),
]

# SQLite: statements that may walk an index in order because they stop after LIMIT rows.
LIMITED = {"expiry sweep", "list orders", "list orders, next page"}
PARTIAL = "ix_outbox_unsent_position"  # covers only the unsent backlog


@pytest.fixture(params=SQL_BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlDatabase]:
    with schema_database(request, tmp_path) as database:
        yield database


def _plans(database: SqlDatabase) -> Iterator[tuple[Connection, list[str]]]:
    """A connection whose statements also record their plan in the yielded list."""
    sqlite = database.is_sqlite
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("BEGIN", "SET", "COMMIT", "ROLLBACK")):
            return
        cursor.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters)
        rows = cursor.fetchall()
        plans.append("\n".join(str(row[-1] if sqlite else row[0]) for row in rows))

    with database.engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", explain)
        if not sqlite:
            conn.exec_driver_sql("SET enable_seqscan = off")
        try:
            yield conn, plans
        finally:
            event.remove(conn, "before_cursor_execute", explain)
            conn.rollback()


def _problems(database: SqlDatabase, name: str, plan: str) -> list[str]:
    if not database.is_sqlite:
        return [f"{name}: {line.strip()}" for line in plan.splitlines() if "Seq Scan" in line]
    bad = []
    for line in plan.splitlines():
        if not line.startswith("SCAN") or line == "SCAN CONSTANT ROW":  # SELECT EXISTS(...)
            continue
        if "INDEX" in line and (name in LIMITED or PARTIAL in line):
            continue
        bad.append(f"{name}: {line}")
    return bad


def test_hot_statements_use_an_index(database: SqlDatabase) -> None:
    problems: list[str] = []
    seen = []
    for conn, plans in _plans(database):
        for name, statement, params in HOT:
            if database.is_sqlite and name == "relay claim (row locks)":
                continue  # PostgreSQL's claim; SQLite claims with a lease
            if not database.is_sqlite and name == "relay claim (lease)":
                continue
            plans.clear()
            if isinstance(statement, ByDialect):  # `= ANY(array)` on PostgreSQL
                statement = statement.of(conn.dialect)
            conn.execute(statement, params)
            assert plans, name
            seen.append(name)
            for plan in plans:
                problems += _problems(database, name, plan)
    assert len(seen) == len(HOT) - 1
    assert not problems, "\n".join(problems)


def test_order_lists_use_an_index(database: SqlDatabase, clock: Any) -> None:
    """GET /v1/orders: newest first, overall and per customer, first and next pages."""
    queries = sql_queries.SqlReadQueries(database, clock)
    cursor = OrderKey(NOW, "o")
    cases = [
        ("list orders", None, None),
        ("list orders, next page", None, cursor),
        ("orders of a customer", "c", None),
        ("orders of a customer, next page", "c", cursor),
    ]
    problems: list[str] = []
    plans: list[str] = []
    for name, customer, before in cases:

        def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            if statement.lstrip().upper().startswith(("BEGIN", "SET", "COMMIT", "ROLLBACK")):
                return
            prefix = "EXPLAIN QUERY PLAN " if database.is_sqlite else "EXPLAIN "
            if not database.is_sqlite:
                cursor.execute("SET enable_seqscan = off")
            cursor.execute(prefix + statement, parameters)
            column = -1 if database.is_sqlite else 0
            plans.append("\n".join(str(row[column]) for row in cursor.fetchall()))

        plans.clear()
        event.listen(database.engine, "before_cursor_execute", explain)
        try:
            queries.list_orders(customer, None, before, 20)
        finally:
            event.remove(database.engine, "before_cursor_execute", explain)
        assert plans, name
        for plan in plans:
            problems += _problems(database, name, plan)
    assert not problems, "\n".join(problems)
