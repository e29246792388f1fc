"""Migrations: up from empty, down to empty and up again, on SQLite and PostgreSQL.

The migrated schema must be exactly what adapters/sql/tables.py declares (Alembic's
own comparison finds no difference), so tests that build the schema from the
tables and deployments that migrate agree. `orderly db` drives the same code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect

from adapters.sql import migrate
from adapters.sql.database import SqlDatabase
from adapters.sql.tables import ALL_TABLES, metadata
from core.domain.orders import RequestedLine
from core.use_cases.ordering import PlaceOrderCommand
from entrypoints.cli.main import cli
from tests.integration.sql_shop import (
    HOT,
    SQL_BACKENDS,
    database_url_for,
    migrated_container,
    stock_shop,
)

TABLES = {table.name for table in ALL_TABLES}


@pytest.fixture(params=SQL_BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url_for(request, tmp_path)


def _tables(database: SqlDatabase) -> set[str]:
    with database.read() as conn:
        return set(inspect(conn).get_table_names()) - {"alembic_version"}


def _differences(database: SqlDatabase) -> list[object]:
    with database.read() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_migrating_up_down_and_up_again(database_url: str) -> None:
    database = SqlDatabase.from_url(database_url)
    try:
        assert migrate.state(database) == migrate.SchemaState(None, migrate.head_revision())
        assert _tables(database) == set()

        up = migrate.upgrade(database)
        assert up.up_to_date and up.current == migrate.head_revision()
        assert _tables(database) == TABLES
        assert _differences(database) == []

        down = migrate.downgrade(database, "base")
        assert down.current is None
        assert _tables(database) == set()

        assert migrate.upgrade(database).up_to_date
        assert _tables(database) == TABLES
        assert _differences(database) == []
    finally:
        database.dispose()
    # The re-created schema works for the application.
    container = migrated_container(database_url)
    try:
        stock_shop(container, 5)
        placed = container.place_order()(PlaceOrderCommand("c1", [RequestedLine(HOT, 2)]))
        assert container.queries().get_order(placed.order.id) == placed.order
    finally:
        container.database().dispose()


def test_an_unknown_revision_is_refused_and_changes_nothing(database_url: str) -> None:
    database = SqlDatabase.from_url(database_url)
    try:
        migrate.upgrade(database)
        with pytest.raises(migrate.MigrationError, match="nope"):
            migrate.downgrade(database, "nope")
        assert migrate.state(database).up_to_date
        assert _tables(database) == TABLES
    finally:
        database.dispose()


def test_orderly_db_commands(database_url: str) -> None:
    runner = CliRunner()
    env = {"ORDERLY_DATABASE_URL": database_url}

    def orderly(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli, list(args), env=env)
        return result.exit_code, result.output.strip()

    code, out = orderly("db", "current", "--json")
    assert code == 0 and json.loads(out) == {
        "current": None,
        "head": migrate.head_revision(),
        "up_to_date": False,
    }
    head = migrate.head_revision()
    code, out = orderly("db", "upgrade")
    assert code == 0 and f"to {head} (head)" in out
    code, out = orderly("db", "upgrade")
    assert code == 0 and out == f"Schema already at {head} (head)."
    code, out = orderly("db", "current")
    assert (code, out) == (0, f"{head} (head)")
    code, out = orderly("db", "downgrade", "nope")
    assert code == 1 and "Can't locate revision" in out and "Traceback" not in out
    code, out = orderly("db", "downgrade", "0001")  # the later tables go
    assert code == 0 and out.endswith("to 0001.")
    tables = _tables(SqlDatabase.from_url(database_url))
    assert not {"dead_letters", "webhook_deliveries"} & set(tables)
    code, out = orderly("db", "downgrade")
    assert code == 0 and out.endswith("to none (empty database).")
    code, out = orderly("db", "downgrade")
    assert code == 1 and "nothing to downgrade" in out


def test_orderly_db_names_the_variable_when_the_database_is_unusable(tmp_path: Path) -> None:
    runner = CliRunner()
    cases = {
        "memory://": "in-memory storage has no schema",
        "sqlite:///:memory:": "ORDERLY_DATABASE_URL",
        f"sqlite:///{tmp_path}/missing/dir/x.db": "ORDERLY_DATABASE_URL",
        "postgresql://postgres@127.0.0.1:1/x": "ORDERLY_DATABASE_URL",
        "postgresql://postgres@127.0.0.1:port/x": "ORDERLY_DATABASE_URL",
    }
    for url, expected in cases.items():
        result = runner.invoke(cli, ["db", "upgrade"], env={"ORDERLY_DATABASE_URL": url})
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1, (url, result.output)
        assert len(lines) == 1 and expected in lines[0], (url, result.output)
