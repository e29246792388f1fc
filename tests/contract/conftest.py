"""Every contract test runs against memory, SQLite and PostgreSQL, through the container.

SQLite: each test gets a copy of a database file migrated once per session.
PostgreSQL: one database per session, migrated once, emptied before each test
(creating a database per test would dominate the suite's time). Both are
built by the real Alembic migrations, so the contract also covers the schema.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from adapters.sql import migrate
from adapters.sql.database import SqlDatabase
from adapters.sql.tables import ALL_TABLES
from adapters.system import FixedClock
from core.domain.events import EventEnvelope
from core.ports.messaging import Outbox
from core.ports.queries import ReadQueries
from core.ports.unit_of_work import UnitOfWorkFactory
from entrypoints.container import Container, build_container
from entrypoints.settings import Settings
from tests.conftest import POSTGRES_HOST, POSTGRES_PORT, _admin_pg_conninfo, require_service

BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@dataclass
class Backend:
    """The storage ports of one adapter family, wired by the container."""

    name: str
    container: Container
    clock: FixedClock
    committed: list[list[EventEnvelope]]

    @property
    def uow(self) -> UnitOfWorkFactory:
        factory: UnitOfWorkFactory = self.container.uow_factory()
        return factory

    @property
    def queries(self) -> ReadQueries:
        queries: ReadQueries = self.container.queries()
        return queries

    @property
    def outbox(self) -> Outbox:
        outbox: Outbox = self.container.outbox()
        return outbox

    @property
    def database(self) -> SqlDatabase:
        assert self.name != "memory", "the memory backend has no database"
        database: SqlDatabase = self.container.database()
        return database


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "orderly.db"
    database = SqlDatabase.from_url(f"sqlite:///{path}")
    migrate.upgrade(database)
    database.dispose()  # the last connection to close checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_contract_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the whole contract suite, dropped at the end."""
    require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    import psycopg

    name = f"orderly_contract_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_pg_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    try:
        database = SqlDatabase.from_url(url)
        migrate.upgrade(database)
        database.dispose()
        yield url
    finally:
        with psycopg.connect(_admin_pg_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty_postgres(url: str) -> None:
    # DELETE beats TRUNCATE on tables this small; dependants go first.
    database = SqlDatabase.from_url(url)
    try:
        with database.write() as conn:
            for table in reversed(ALL_TABLES):
                conn.execute(table.delete())
    finally:
        database.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, clock: FixedClock, tmp_path: Path) -> Iterator[Backend]:
    name: str = request.param
    if name == "memory":
        url = "memory://"
    elif name == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "orderly.db")
        url = f"sqlite:///{tmp_path / 'orderly.db'}"
    else:
        url = request.getfixturevalue("postgres_contract_url")
        _empty_postgres(url)
    container = build_container(Settings(database_url=url))
    container.clock.override(clock)
    committed: list[list[EventEnvelope]] = []
    container.commit_hooks().subscribe(committed.append)
    yield Backend(name, container, clock, committed)
    if name != "memory":
        container.database().dispose()
