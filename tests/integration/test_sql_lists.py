"""List parameters (adapters/sql/lists.py): `= ANY(array)` on PostgreSQL, `IN (...)` on
SQLite, return the same rows as a plain IN list, for any length, with one SQL text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from adapters.sql import outbox as sql_outbox
from adapters.sql.database import SqlDatabase
from adapters.sql.lists import ByDialect
from adapters.sql.prepared import Prepared, select_rows
from adapters.sql.repositories.statements import INBOX_SEEN_MANY
from adapters.sql.tables import outbox, processed_events
from adapters.system import FixedClock
from tests.integration.sql_shop import SQL_BACKENDS, schema_database

NOW = datetime(2026, 1, 1, tzinfo=UTC)
STORED = [f"event-{n:02d}" for n in range(12)]


@pytest.fixture(params=SQL_BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlDatabase]:
    with schema_database(request, tmp_path) as database:
        with database.engine.begin() as conn:
            rows = [{"handler": "h", "event_id": e, "processed_at": NOW} for e in STORED]
            rows.append({"handler": "other", "event_id": "event-99", "processed_at": NOW})
            conn.execute(insert(processed_events), rows)
        yield database


@pytest.mark.parametrize("size", [1, 2, 5, 12, 30])
def test_a_list_of_any_length_finds_exactly_its_stored_members(
    database: SqlDatabase, size: int
) -> None:
    # Even ids up to event-10 are stored, higher ones not; event-99 is another handler's.
    evens = [f"event-{n:02d}" for n in range(0, 2 * size, 2)]
    wanted = [*evens[: size - 1], "event-99"]
    with database.engine.connect() as conn:
        found = {
            r["event_id"]
            for r in select_rows(conn, INBOX_SEEN_MANY, {"handler": "h", "event_ids": wanted})
        }
        plain = select(processed_events.c.event_id).where(
            processed_events.c.handler == "h", processed_events.c.event_id.in_(wanted)
        )
        expected = {row.event_id for row in conn.execute(plain)}
    assert found == expected == set(wanted) & set(STORED)


def test_postgresql_sends_one_sql_text_for_every_length(database: SqlDatabase) -> None:
    statement = INBOX_SEEN_MANY.of(database.engine.dialect)
    prepared = Prepared(statement, database.engine.dialect)
    if database.is_sqlite:
        assert prepared.expanding == ("event_ids",)  # IN (?, ?, ...) per length
        return
    assert prepared.expanding == ()
    # One array parameter (unnested, each member looked up through the primary key).
    assert "::VARCHAR(64)[]" in prepared.sql and "IN (" not in prepared.sql


def test_relay_marks_exactly_the_claimed_positions(database: SqlDatabase) -> None:
    with database.engine.begin() as conn:
        for n in range(6):
            conn.execute(
                insert(outbox),
                {
                    "event_id": f"e-{n}",
                    "type": "OrderPlaced",
                    "subject": f"o-{n}",
                    "occurred_at": NOW,
                    "correlation_id": "c",
                    "schema_version": 1,
                    "payload": {"n": n},
                    "created_at": NOW,
                },
            )
        positions = [row.position for row in conn.execute(select(outbox.c.position))]
    assert isinstance(sql_outbox._MARK_SENT, ByDialect)
    store = sql_outbox.SqlOutbox(database, FixedClock(NOW))
    with database.engine.begin() as conn:
        store._mark_sent(conn, positions[1:4])
    with database.engine.connect() as conn:
        sent = [
            row.position
            for row in conn.execute(select(outbox.c.position).where(outbox.c.sent_at.is_not(None)))
        ]
    assert sorted(sent) == sorted(positions[1:4])
