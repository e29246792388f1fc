"""Rows read through `Prepared` are what SQLAlchemy gives, however many there are
(adapters/sql/prepared.py converts several rows column by column, once per repeated value)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from adapters.sql.database import SqlDatabase
from adapters.sql.prepared import select_rows
from adapters.sql.tables import outbox
from tests.integration.sql_shop import SQL_BACKENDS, schema_database

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# Three events of one subject share `occurred_at` and `created_at` (as a JOIN repeats an
# order's columns on each of its lines), then the values change, then repeat again.
ROWS = [
    {
        "event_id": f"e-{n}",
        "type": "OrderPlaced",
        "subject": "o-1" if n < 3 else f"o-{n}",
        "occurred_at": T0 if n < 3 else T0 + timedelta(seconds=n // 2),
        "correlation_id": "c",
        "schema_version": 1,
        "payload": {"n": 1} if n < 6 else {"n": n},  # one document on six rows in a row
        "created_at": T0,
        "sent_at": None if n % 3 else T0 + timedelta(microseconds=n),
    }
    for n in range(8)
]
BY_SUBJECT = select(outbox).order_by(outbox.c.position)


@pytest.fixture(params=SQL_BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlDatabase]:
    with schema_database(request, tmp_path) as database:
        with database.engine.begin() as conn:
            conn.execute(insert(outbox), ROWS)
        yield database


def test_several_rows_come_back_as_sqlalchemy_reads_them(database: SqlDatabase) -> None:
    with database.engine.connect() as conn:
        expected = [dict(row) for row in conn.execute(BY_SUBJECT).mappings()]
        rows = select_rows(conn, BY_SUBJECT, {})
        one = select_rows(conn, BY_SUBJECT.where(outbox.c.event_id == "e-4"), {})
    assert rows == expected and len(rows) == len(ROWS)
    assert [list(row) for row in rows] == [list(row) for row in expected]  # same key order
    assert one == [expected[4]]
    assert all(r["occurred_at"].tzinfo is UTC for r in rows)


def test_a_document_read_on_several_rows_is_each_rows_own(database: SqlDatabase) -> None:
    with database.engine.connect() as conn:
        rows = select_rows(conn, BY_SUBJECT, {})
    same = [row["payload"] for row in rows if row["payload"] == {"n": 1}]
    assert len(same) == 6
    same[0]["n"] = 99  # a caller changing its copy changes no other row's
    assert [p["n"] for p in same[1:]] == [1] * 5
