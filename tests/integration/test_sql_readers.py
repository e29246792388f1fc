"""SQLite's per-thread read connections (adapters/sql/readers.py): always the latest
commit, one per thread, replaced after an error or `dispose`, never inside the pool."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from adapters.sql.database import SqlDatabase


@pytest.fixture
def database(tmp_path: Path) -> SqlDatabase:
    db = SqlDatabase.from_url(f"sqlite:///{tmp_path / 'readers.db'}")
    with db.write() as conn:
        conn.execute(text("CREATE TABLE keys (name TEXT PRIMARY KEY, revoked INTEGER)"))
        conn.execute(text("INSERT INTO keys VALUES ('alice', 0)"))
    return db


def revoked(db: SqlDatabase) -> int:
    with db.readers.connection() as (conn, _):
        cursor = conn.cursor()
        try:
            cursor.execute("SELECT revoked FROM keys WHERE name = 'alice'")
            return int(cursor.fetchone()[0])
        finally:
            cursor.close()


def test_a_read_sees_the_commit_made_just_before_it(database: SqlDatabase) -> None:
    assert revoked(database) == 0  # the connection is open now, and stays open
    with database.write() as conn:
        conn.execute(text("UPDATE keys SET revoked = 1"))
    assert revoked(database) == 1, "a kept connection must not read an old snapshot"
    with database.readers.connection() as (conn, _):
        assert not conn.in_transaction


def test_one_connection_per_thread_outside_the_pool(database: SqlDatabase) -> None:
    seen: list[object] = []

    def read() -> None:
        with database.readers.connection() as (conn, _):
            seen.append(conn)

    read()
    read()
    other = threading.Thread(target=read)
    other.start()
    other.join()
    assert seen[0] is seen[1] and seen[2] is not seen[0]
    assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_driver_error_replaces_the_connection(database: SqlDatabase) -> None:
    with database.readers.connection() as (first, _):
        pass
    with pytest.raises(sqlite3.OperationalError), database.readers.connection() as (conn, _):
        conn.execute("SELECT nothing FROM nowhere")
    with database.readers.connection() as (second, _):
        assert second is not first
    assert revoked(database) == 0


def test_dispose_closes_them_and_the_next_read_opens_another(database: SqlDatabase) -> None:
    assert revoked(database) == 0
    with database.readers.connection() as (before, _):
        pass
    database.dispose()
    with pytest.raises(sqlite3.ProgrammingError):
        before.execute("SELECT 1")  # closed
    assert revoked(database) == 0
