"""Engine behaviour per database: URLs, startup checks, SQLite pragmas and write locking,
row locks and version checks, UTC datetimes, and database errors in the core's terms."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, MetaData, Table, create_engine, select, text, update
from sqlalchemy import exc as sa_exc

from adapters.sql.database import SqlDatabase
from adapters.sql.engines import InvalidDatabaseUrl, json_text, json_value, normalise_url
from adapters.sql.errors import translate
from adapters.sql.queries import SqlReadQueries
from adapters.sql.tables import products
from adapters.sql.types import UtcDateTime
from adapters.sql.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory
from adapters.system import FixedClock, UuidGenerator
from core.domain.catalog import Product
from core.domain.money import Money
from core.ports.errors import ConcurrencyConflict, DependencyUnavailable
from entrypoints.container import Container, build_container
from entrypoints.settings import ConfigError, Settings
from tests.integration.sql_shop import (
    HOT,
    SQL_BACKENDS,
    database_url_for,
    sql_container,
    stock_shop,
)


@pytest.fixture(params=SQL_BACKENDS)
def shop(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Container]:
    with sql_container(database_url_for(request, tmp_path), clock) as container:
        stock_shop(container, 20)
        yield container


# --- URLs and the startup check --------------------------------------------


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///orderly.db", "sqlite"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h:5433/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
    ],
)
def test_usable_urls_get_the_supported_driver(url: str, driver: str) -> None:
    assert normalise_url(url).drivername == driver


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sqlite:///:memory:", "memory://"),
        ("sqlite://", "memory://"),
        ("postgresql+psycopg2://u@h/db", "psycopg 3"),
        ("postgresql://u@h:notaport/db", "port"),
        ("postgresql://u@h", "name the database"),
        ("mysql://u@h/db", "unsupported"),
        ("::not a url::", "cannot parse"),
    ],
)
def test_unusable_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(InvalidDatabaseUrl, match=reason):
        normalise_url(url)


def test_startup_fails_in_one_line_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^ORDERLY_DATABASE_URL: .*memory://"):
        build_container(Settings(database_url="sqlite:///:memory:"))
    unreachable = [
        f"sqlite:///{tmp_path}/no/such/dir/orderly.db",
        "postgresql://postgres@127.0.0.1:1/orderly",
    ]
    for url in unreachable:
        with pytest.raises(DependencyUnavailable) as caught:
            build_container(Settings(database_url=url))
        message = str(caught.value)
        assert message.startswith("database unavailable: ORDERLY_DATABASE_URL=")
        assert "\n" not in message


def test_passwords_are_hidden_in_messages() -> None:
    database = SqlDatabase.from_url("postgresql://orderly:s3cret@127.0.0.1:1/orderly")
    assert "s3cret" not in database.url and "***" in database.url
    with pytest.raises(DependencyUnavailable) as caught:
        build_container(Settings(database_url="postgresql://orderly:s3cret@127.0.0.1:1/orderly"))
    assert "s3cret" not in str(caught.value)
    with pytest.raises(ConfigError) as refused:
        build_container(Settings(database_url="postgresql://orderly:s3cret@127.0.0.1:x/db"))
    assert "s3cret" not in str(refused.value) and "***" in str(refused.value)


# --- SQLite specifics -------------------------------------------------------


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    database = SqlDatabase.from_url(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with database.read() as conn:
            pragma = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        database.dispose()
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 10000,
        "synchronous": 1,
    }


def test_sqlite_write_units_of_work_take_the_write_lock_at_begin(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    database = SqlDatabase.from_url(f"sqlite:///{path}")
    factory = SqlUnitOfWorkFactory(database, UuidGenerator(), FixedClock())
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with factory():
            # Nothing written yet, and still no other writer gets in: BEGIN IMMEDIATE.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            # Readers are not blocked (WAL).
            other.execute("SELECT count(*) FROM sqlite_master").fetchone()
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
        database.dispose()


def test_a_write_begun_while_another_process_writes_is_a_conflict_and_leaves_nothing_held(
    tmp_path: Path,
) -> None:
    """BEGIN IMMEDIATE runs on the driver's connection (adapters/sql/engines.py): when
    SQLite's busy timeout runs out it is the core's ConcurrencyConflict, as through
    SQLAlchemy, and the next unit of work begins normally."""
    path = tmp_path / "x.db"
    database = SqlDatabase.from_url(f"sqlite:///{path}", busy_timeout=0.05)
    factory = SqlUnitOfWorkFactory(database, UuidGenerator(), FixedClock())
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with factory():  # a first write: the file exists, in WAL mode
            pass
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(ConcurrencyConflict, match="busy"), factory():
            pass
        other.execute("ROLLBACK")
        with factory() as uow:
            uow.commit()
    finally:
        other.close()
        database.dispose()


def test_a_nested_write_unit_of_work_on_sqlite_fails_at_once(tmp_path: Path) -> None:
    database = SqlDatabase.from_url(f"sqlite:///{tmp_path / 'x.db'}")
    factory = SqlUnitOfWorkFactory(database, UuidGenerator(), FixedClock())
    try:
        with factory(), pytest.raises(RuntimeError, match="nested write unit of work"), factory():
            pass
        with factory():  # the gate was released
            pass
    finally:
        database.dispose()


# --- locks, versions, time --------------------------------------------------


@pytest.mark.postgres
def test_postgresql_command_loads_lock_the_rows(postgres_url: str, clock: FixedClock) -> None:
    with sql_container(postgres_url, clock) as container:
        stock_shop(container, 20)
        factory = container.uow_factory()
        with factory() as holder:
            assert holder.stock.get_many([HOT])
            # The unit of work reports the lost race when it ends, as use cases see it.
            with (
                pytest.raises(ConcurrencyConflict, match="lock not available"),
                factory() as contender,
            ):
                conn = contender._conn
                conn.exec_driver_sql("SET LOCAL lock_timeout = '50ms'")
                contender.stock.get_many([HOT])


@pytest.mark.postgres
def test_postgresql_reads_keep_the_statements_psycopg_prepared(postgres_url: str) -> None:
    """psycopg forgets every statement it prepared on a connection at each ROLLBACK (and
    sends DEALLOCATE ALL): a read ends its transaction with COMMIT instead."""
    db = SqlDatabase.from_url(postgres_url)
    try:
        for snapshot in (True, False):
            with db.read(snapshot=snapshot) as conn:
                for _ in range(6):  # past psycopg's prepare threshold (5)
                    conn.execute(text("SELECT 1"))
        with db.read() as conn:  # the pool's one idle connection: the one used above
            assert db.engine.pool.checkedin() == 0  # type: ignore[attr-defined]
            prepared = conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar()
    finally:
        db.dispose()
    assert prepared == 1  # SELECT 1, prepared once and kept


def test_a_save_after_the_row_moved_on_is_a_conflict(shop: Container) -> None:
    with shop.uow_factory()() as uow:
        product = uow.products.get(HOT)
        assert product is not None
        # Another writer bumps the version behind this unit of work's back.
        conn = uow._conn
        conn.execute(update(products).where(products.c.sku == HOT).values(version=99))
        product.update(datetime(2026, 1, 2, tzinfo=UTC), name="Mine")
        uow.products.save(product)
        with pytest.raises(ConcurrencyConflict, match="changed by another transaction"):
            uow.commit()  # queued writes are sent, and checked, by commit at the latest


def test_datetimes_come_back_aware_utc_and_naive_ones_are_refused(shop: Container) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 3, 1, 14, 30, 0, 123456, tzinfo=plus_two)
    with shop.uow_factory()() as uow:
        uow.products.add(Product("TZ-1", "Zoned", Money(1, "EUR"), True, 1, local, local))
        uow.commit()
    view = shop.queries().get_product("TZ-1")
    assert view is not None
    assert view.created_at == local and view.created_at.tzinfo == UTC
    assert view.created_at.hour == 12 and view.created_at.microsecond == 123456
    naive = datetime(2026, 3, 1, 14, 30)
    with pytest.raises(sa_exc.StatementError, match="naive datetime"), shop.uow_factory()() as uow:
        uow.products.add(Product("TZ-2", "Naive", Money(1, "EUR"), True, 1, naive, naive))
        uow.commit()


# --- errors ------------------------------------------------------------------


class _DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        if sqlstate is not None:
            self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("orig", "expected", "text_"),
    [
        (_DriverError("deadlock detected", "40P01"), ConcurrencyConflict, "deadlock"),
        (_DriverError("could not serialize", "40001"), ConcurrencyConflict, "serialization"),
        (_DriverError("relation does not exist", "42P01"), DependencyUnavailable, "db upgrade"),
        (_DriverError("terminating connection", "57P01"), DependencyUnavailable, "terminating"),
        (_DriverError("database is locked"), ConcurrencyConflict, "busy"),
        (_DriverError("no such table: orders"), DependencyUnavailable, "db upgrade"),
        (_DriverError("unable to open database file"), DependencyUnavailable, "unable to open"),
    ],
)
def test_database_errors_become_the_cores_signals(
    orig: Exception, expected: type[Exception], text_: str
) -> None:
    translated = translate(sa_exc.OperationalError("SELECT 1", {}, orig))
    assert isinstance(translated, expected) and text_ in str(translated)


def test_a_bug_is_not_disguised(shop: Container) -> None:
    error = sa_exc.ProgrammingError("SELECT", {}, _DriverError("syntax error", "42601"))
    assert translate(error) is None
    with shop.database().read() as conn, pytest.raises(sa_exc.DBAPIError):
        conn.execute(text("SELEKT 1"))


def test_an_unmigrated_database_says_how_to_fix_it(tmp_path: Path, clock: FixedClock) -> None:
    database = SqlDatabase.from_url(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(DependencyUnavailable, match="orderly db upgrade"):
            SqlReadQueries(database, clock).list_orders(None, None, None, 10)
        with pytest.raises(DependencyUnavailable, match="orderly db upgrade"):  # noqa: SIM117
            with SqlUnitOfWork(database, UuidGenerator(), clock) as uow:
                uow.products.get("ANY-1")
    finally:
        database.dispose()


def test_sqlite_stores_datetimes_as_sqlalchemy_does_and_reads_its_rows_back(
    tmp_path: Path,
) -> None:
    """UtcDateTime writes SQLite's text itself (adapters/sql/types.py): the very text
    SQLAlchemy's DATETIME writes, and it reads rows SQLAlchemy wrote, with or without
    microseconds."""
    engine = create_engine(f"sqlite:///{tmp_path / 'types.db'}")
    ours = Table("ours", MetaData(), Column("at", UtcDateTime()))
    theirs = Table("theirs", MetaData(), Column("at", DateTime()))
    for table in (ours, theirs):
        table.create(engine)
    at = datetime(2026, 3, 1, 14, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    with engine.begin() as conn:
        conn.execute(ours.insert(), [{"at": at}, {"at": at.replace(microsecond=0)}])
        conn.execute(theirs.insert(), [{"at": at.astimezone(UTC).replace(tzinfo=None)}])
        stored = conn.exec_driver_sql("SELECT at FROM ours").scalars().all()
        reference = conn.exec_driver_sql("SELECT at FROM theirs").scalar_one()
        assert stored == [reference, "2026-03-01 12:30:00.000000"]
        conn.exec_driver_sql("INSERT INTO ours VALUES ('2026-03-01 12:30:00')")  # no fraction
        read = conn.execute(select(ours.c.at)).scalars().all()
    assert read == [at, at.replace(microsecond=0), at.replace(microsecond=0)]
    assert all(value.tzinfo is UTC for value in read)
    engine.dispose()


def test_json_columns_are_written_by_msgspec_and_fall_back_to_the_standard_library() -> None:
    payload = {"sku": "MUG-1", "name": "Tasse à café", "quantity": 3, "big": 10**20, "ok": True}
    assert json.loads(json_text(payload)) == payload
    assert json_text(payload) == json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    lone = {"name": "\udc80"}  # msgspec refuses it; the standard library escapes it
    assert json_text(lone) == json.dumps(lone)
    assert json_value(json_text(lone)) == lone
    assert json_value(b'{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}
