"""Per-thread read connections (adapters/sql/readers.py), on SQLite and PostgreSQL:
always the latest commit, one per thread, outside the pool, replaced after an
error or `dispose`."""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select, text

from adapters.sql.database import SqlDatabase
from adapters.sql.prepared import Prepared
from core.ports.errors import DependencyUnavailable
from tests.integration.sql_shop import SQL_BACKENDS, database_url_for


@pytest.fixture(params=SQL_BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlDatabase]:
    db = SqlDatabase.from_url(database_url_for(request, tmp_path))
    with db.write() as conn:
        conn.execute(text("CREATE TABLE keys (name TEXT PRIMARY KEY, revoked INTEGER)"))
        conn.execute(text("INSERT INTO keys VALUES ('alice', 0)"))
    yield db
    db.dispose()


def one(conn: Any, sql: str) -> Any:
    cursor = conn.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchone()[0]
    finally:
        cursor.close()


def revoked(db: SqlDatabase) -> int:
    with db.readers.connection() as (conn, _):
        return int(one(conn, "SELECT revoked FROM keys WHERE name = 'alice'"))


def test_a_read_sees_the_commit_made_just_before_it(database: SqlDatabase) -> None:
    assert revoked(database) == 0  # the connection is open now, and stays open
    with database.write() as conn:
        conn.execute(text("UPDATE keys SET revoked = 1"))
    assert revoked(database) == 1, "a kept connection must not read an old snapshot"


def test_a_kept_connection_holds_no_transaction(database: SqlDatabase) -> None:
    assert revoked(database) == 0
    with database.readers.connection() as (conn, _):
        driver = conn.dbapi_connection
        if database.is_sqlite:
            assert not driver.in_transaction
        else:
            assert driver.info.transaction_status.name == "IDLE"
    # A schema change needs every other transaction gone: it would wait forever otherwise.
    with database.write() as write:
        write.execute(text("ALTER TABLE keys ADD COLUMN note TEXT"))


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
    error = database.engine.dialect.loaded_dbapi.Error
    with pytest.raises(error), database.readers.connection() as (conn, _):
        one(conn, "SELECT nothing FROM nowhere")
    with database.readers.connection() as (second, _):
        assert second is not first
    assert revoked(database) == 0


def test_dispose_closes_them_and_the_next_read_opens_another(database: SqlDatabase) -> None:
    assert revoked(database) == 0
    with database.readers.connection() as (before, _):
        driver = before.dbapi_connection
    database.dispose()
    with pytest.raises(database.engine.dialect.loaded_dbapi.Error):
        one(driver, "SELECT 1")  # closed
    assert revoked(database) == 0


def test_a_connection_the_server_dropped_fails_one_read_quietly_then_is_replaced(
    database: SqlDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    if database.is_sqlite:
        pytest.skip("a SQLite file has no server to drop the connection")
    keys = Table("keys", MetaData(), Column("name", String), Column("revoked", Integer))
    lookup = Prepared(
        select(keys.c.revoked).where(keys.c.name == bindparam("name")), database.engine.dialect
    )
    assert lookup.rows(database.readers, {"name": "alice"}) == [{"revoked": 0}]
    with database.readers.connection() as (conn, _):
        pid = conn.dbapi_connection.info.backend_pid
    with database.write() as write:
        write.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    with pytest.raises(DependencyUnavailable):
        lookup.rows(database.readers, {"name": "alice"})
    assert lookup.rows(database.readers, {"name": "alice"}) == [{"revoked": 0}]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no reset noise"


def test_a_read_cut_short_by_dispose_fails_without_a_second_close(
    database: SqlDatabase,
) -> None:
    assert revoked(database) == 0
    with (
        warnings.catch_warnings(),
        pytest.raises(database.engine.dialect.loaded_dbapi.Error),
        database.readers.connection() as (conn, _),
    ):
        warnings.simplefilter("error")  # SQLAlchemy warns when a closed connection is closed
        database.dispose()  # from another thread, while this read runs
        one(conn, "SELECT 1")  # as Prepared reads: through the pool's proxy
    assert revoked(database) == 0


def test_a_read_that_cannot_connect_says_the_database_is_unavailable(
    database: SqlDatabase, tmp_path: Path
) -> None:
    """Opening the thread's connection fails before any statement (a server out of
    connections, a file that cannot be opened): DependencyUnavailable, as for any other
    read, never the driver's own error (which the API would answer with a 500)."""
    keys = Table("keys", MetaData(), Column("name", String), Column("revoked", Integer))
    query = select(keys.c.revoked).where(keys.c.name == bindparam("name"))
    if database.is_sqlite:
        unusable = SqlDatabase.from_url(f"sqlite:///{tmp_path / 'missing' / 'orderly.db'}")
        with pytest.raises(DependencyUnavailable, match="cannot connect"):
            Prepared(query, unusable.engine.dialect).rows(unusable.readers, {"name": "alice"})
        unusable.dispose()
        return
    lookup = Prepared(query, database.engine.dialect)
    url = database.engine.url
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(False)

    def allow(allowed: bool) -> None:  # from another database: not allowed on one's own
        import psycopg

        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS {allowed}')

    database.engine.pool.dispose()  # else the reader would take the idle pooled one
    allow(False)  # new connections refused from now on, for everyone
    try:
        with pytest.raises(DependencyUnavailable, match="cannot connect"):
            lookup.rows(database.readers, {"name": "alice"})  # this thread's first read
    finally:
        allow(True)
    assert lookup.rows(database.readers, {"name": "alice"}) == [{"revoked": 0}]
