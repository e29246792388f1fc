"""Batched writes (adapters/sql/bulk.py): on PostgreSQL a batch of INSERTs (of two rows
or more) or of UPDATEs (MIN_ROWS or more) is one statement over a JSON document of its
rows (adapters/sql/recordset.py). It writes
what row-by-row executemany writes, on both databases: the same values, row counts and
errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select

from adapters.sql.bulk import execute_columns, execute_many
from adapters.sql.database import SqlDatabase
from adapters.sql.recordset import MIN_ROWS, recordset
from adapters.sql.repositories.statements import INBOX_INSERT, ORDER_INSERT, ORDER_UPDATE
from adapters.sql.tables import metadata, orders, outbox, processed_events
from tests.integration.sql_shop import SQL_BACKENDS, schema_database

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=SQL_BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlDatabase]:
    with schema_database(request, tmp_path) as database:
        yield database


def _order(n: int) -> dict[str, Any]:
    return {
        "id": f"order-{n:03d}",
        "customer_id": "customer",
        "status": "pending_payment",
        "currency": "EUR",
        "total": 100 * n,
        "cancel_reason": None,
        "created_at": NOW + timedelta(seconds=n),
        "updated_at": NOW,
        "version": 1,
    }


@pytest.mark.parametrize("size", [2, MIN_ROWS, 3 * MIN_ROWS, 301])
def test_a_batch_writes_and_counts_what_row_by_row_writes(database: SqlDatabase, size: int) -> None:
    events = [
        {
            "event_id": f"e-{n}",
            "type": "OrderPlaced",
            "subject": f"order-{n:03d}",
            "occurred_at": NOW,
            "correlation_id": "c",
            "schema_version": 1,
            "payload": {"n": n, "name": "Zoë 東京", "lines": [{"sku": "A"}], "none": None},
            "created_at": NOW,
            "trace_context": None if n % 2 else "00-trace",
        }
        for n in range(size)
    ]
    with database.engine.begin() as conn:
        assert execute_many(conn, ORDER_INSERT, [_order(n) for n in range(size)]) == size
        assert execute_many(conn, insert(outbox), events) == size
        # One order was moved on by someone else: its versioned UPDATE matches no row.
        conn.execute(orders.update().where(orders.c.id == "order-001").values(version=2))
        changes = [
            {
                "status": "paid",
                "cancel_reason": None,
                "updated_at": NOW + timedelta(minutes=1),
                "version": 2,
                "k_id": f"order-{n:03d}",
                "k_version": 1,
            }
            for n in range(size)
        ]
        assert execute_many(conn, ORDER_UPDATE, changes) == size - 1
    with database.engine.connect() as conn:
        stored = {r.id: r for r in conn.execute(select(orders))}
        written = conn.execute(select(outbox).order_by(outbox.c.position)).mappings().all()
    assert stored["order-001"].status == "pending_payment"
    assert all(stored[f"order-{n:03d}"].status == "paid" for n in range(size) if n != 1)
    assert stored["order-000"].updated_at == NOW + timedelta(minutes=1)
    assert stored[f"order-{size - 1:03d}"].total == 100 * (size - 1)
    assert [dict(r, position=None) for r in written] == [
        {**e, "position": None, "claimed_until": None, "sent_at": None} for e in events
    ]


@pytest.mark.parametrize("size", [2, MIN_ROWS, 3 * MIN_ROWS])
def test_a_batch_that_updates_one_row_again_and_again_keeps_every_change(
    database: SqlDatabase, size: int
) -> None:
    """A unit of work that saves an aggregate twice queues two versioned UPDATEs of one
    row. Row by row each sees the one before; one statement would update the row once
    and count the rest as lost races, so such a batch is never sent as a document."""
    with database.engine.begin() as conn:
        execute_many(conn, ORDER_INSERT, [_order(1), _order(2)])
        changes = [
            {
                "status": "paid" if n % 2 else "pending_payment",
                "cancel_reason": None,
                "updated_at": NOW + timedelta(minutes=n),
                "version": n + 2,
                "k_id": "order-001",
                "k_version": n + 1,
            }
            for n in range(size - 1)
        ]
        changes.append({**changes[0], "k_id": "order-002", "k_version": 1, "version": 2})
        assert execute_many(conn, ORDER_UPDATE, changes) == size
    with database.engine.connect() as conn:
        stored = {r.id: r for r in conn.execute(select(orders))}
    assert (stored["order-001"].version, stored["order-002"].version) == (size, 2)
    assert stored["order-001"].updated_at == NOW + timedelta(minutes=size - 2)


@pytest.mark.parametrize("size", [2, MIN_ROWS])
def test_rows_given_column_by_column_are_written_as_rows_given_one_by_one(
    database: SqlDatabase, size: int
) -> None:
    def events(prefix: str) -> list[dict[str, Any]]:
        return [
            {
                "event_id": f"{prefix}-{n}",
                "type": "StockAdjusted",
                "subject": f"SKU-{n}",
                "occurred_at": NOW + timedelta(seconds=n % 2),
                "correlation_id": "c",
                "schema_version": 1,
                "payload": {"sku": f"SKU-{n}", "name": "Zoë 東京", "delta": -n, "none": None},
                "created_at": NOW,
                "trace_context": None if n % 2 else "00-trace",
            }
            for n in range(size)
        ]

    by_rows, by_columns = events("rows"), events("columns")
    with database.engine.begin() as conn:
        assert execute_many(conn, insert(outbox), by_rows) == size
        columns = {name: [row[name] for row in by_columns] for name in by_columns[0]}
        assert execute_columns(conn, insert(outbox), columns) == size
    with database.engine.connect() as conn:
        written = conn.execute(select(outbox).order_by(outbox.c.position)).mappings().all()

    def stored(prefix: str) -> list[dict[str, Any]]:
        return [
            dict(row, position=None, event_id=row["event_id"].split("-", 1)[1])
            for row in written
            if row["event_id"].startswith(prefix)
        ]

    assert stored("rows-") == stored("columns-")
    assert len(stored("rows-")) == size


def test_columns_of_different_lengths_are_refused(database: SqlDatabase) -> None:
    with pytest.raises(ValueError), database.engine.begin() as conn:
        execute_columns(conn, INBOX_INSERT, {"handler": ["h", "h"], "event_id": ["e-1"]})


@pytest.mark.parametrize(
    "other",
    [
        {"handler": "h", "event_id": "e-1", "when": NOW},  # as many names, one different
        {"handler": "h", "event_id": "e-1"},  # one fewer
    ],
)
def test_rows_with_different_names_go_to_sqlalchemy_which_refuses_a_missing_value(
    database: SqlDatabase, other: dict[str, Any]
) -> None:
    rows = [{"handler": "h", "event_id": "e-0", "processed_at": NOW}, other]
    with pytest.raises(sa_exc.StatementError), database.engine.begin() as conn:
        execute_many(conn, INBOX_INSERT, rows)


def test_a_row_with_a_name_more_goes_to_sqlalchemy_which_ignores_it(
    database: SqlDatabase,
) -> None:
    rows = [
        {"handler": "h", "event_id": "e-0", "processed_at": NOW},
        {"handler": "h", "event_id": "e-1", "processed_at": NOW, "extra": 1},
    ]
    with database.engine.begin() as conn:
        execute_many(conn, INBOX_INSERT, rows)  # (psycopg counts no rows of this path)
    with database.engine.connect() as conn:
        assert len(conn.execute(select(processed_events)).all()) == 2


def test_a_duplicate_in_a_batch_is_a_unique_violation(database: SqlDatabase) -> None:
    rows = [{"handler": "h", "event_id": f"e-{n}", "processed_at": NOW} for n in range(MIN_ROWS)]
    with database.engine.begin() as conn:
        execute_many(conn, INBOX_INSERT, rows[:1])
    with pytest.raises(sa_exc.IntegrityError), database.engine.begin() as conn:
        execute_many(conn, INBOX_INSERT, rows)
    with database.engine.connect() as conn:
        assert len(conn.execute(select(processed_events)).all()) == 1


@pytest.mark.postgres
def test_a_value_too_long_for_its_column_is_refused_not_cut(database: SqlDatabase) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    rows = [_order(n) for n in range(MIN_ROWS)]
    rows[3]["currency"] = "EURO"  # VARCHAR(3)
    with pytest.raises(sa_exc.DataError), database.engine.begin() as conn:
        execute_many(conn, ORDER_INSERT, rows)


def test_only_plain_shapes_are_rewritten(database: SqlDatabase) -> None:
    from adapters.sql.repositories.statements import RESERVATION_DELETE, STOCK_RESERVE

    dialect = database.engine.dialect
    keys = ("status", "cancel_reason", "updated_at", "version", "k_id", "k_version")
    rewritten = recordset(ORDER_UPDATE, dialect, keys)
    assert (rewritten is not None) == (dialect.name == "postgresql")
    assert recordset(STOCK_RESERVE, dialect, ("k_sku", "delta")) is None  # arithmetic
    assert recordset(RESERVATION_DELETE, dialect, ("sku", "order_id")) is None


def test_a_value_msgspec_refuses_sends_the_batch_row_by_row() -> None:
    from sqlalchemy import create_engine

    from adapters.sql.bulk import _compiled

    keys = ("handler", "event_id", "processed_at")
    dialect = create_engine("postgresql+psycopg://nobody@localhost/none").dialect  # no connect
    compiled = _compiled(INBOX_INSERT, dialect, keys)
    columns: dict[str, list[Any]] = {
        "handler": ["h"] * MIN_ROWS,
        "event_id": [f"e-{n}" for n in range(MIN_ROWS)],
        "processed_at": [NOW] * MIN_ROWS,
    }
    assert compiled.recordset is not None
    assert compiled.document(columns) is not None
    columns["event_id"][2] = "lone \ud800"  # no UTF-8 for it: the JSON document cannot hold it
    assert compiled.document(columns) is None


def test_sqlite_sends_a_batch_as_a_few_multi_row_inserts(tmp_path: Path) -> None:
    """One statement per power of two of rows (256 + 64 + ...), not one per row: each
    statement gives up the GIL once in the sqlite3 module (adapters/sql/bulk.py)."""
    database = SqlDatabase.from_url(f"sqlite:///{tmp_path / 'rows.db'}")
    metadata.create_all(database.engine)
    sent: list[str] = []
    rows = [{"handler": "h", "event_id": f"e-{n:03d}", "processed_at": NOW} for n in range(341)]
    with database.engine.begin() as conn:
        conn.connection.dbapi_connection.set_trace_callback(sent.append)  # type: ignore[union-attr]
        assert execute_many(conn, INBOX_INSERT, rows) == 341
        conn.connection.dbapi_connection.set_trace_callback(None)  # type: ignore[union-attr]
    inserts = [sql for sql in sent if sql.startswith("INSERT")]
    assert len(inserts) == 5  # 256 + 64 + 16 + 4 + 1 rows
    with database.engine.connect() as conn:
        stored = conn.execute(select(processed_events).order_by(processed_events.c.event_id))
        assert [r.event_id for r in stored] == [f"e-{n:03d}" for n in range(341)]
    database.dispose()
