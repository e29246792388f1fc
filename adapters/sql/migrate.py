"""Schema migrations (Alembic) as plain functions, for `orderly db` and for tests.

Each command runs on one connection in one write transaction from SqlDatabase,
so a failed migration leaves the schema as it was on both databases (their DDL
is transactional), and on SQLite it waits for the write lock like any writer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import Connection

from adapters.sql.database import SqlDatabase

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class MigrationError(Exception):
    """A migration command was refused (an unknown revision, for instance)."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None  # None: no migration has run (an empty database)
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise MigrationError("no migrations found")
    return head


def state(database: SqlDatabase) -> SchemaState:
    with database.read() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return SchemaState(current, head_revision())


def upgrade(database: SqlDatabase, revision: str = "head") -> SchemaState:
    return _run(database, command.upgrade, revision)


def downgrade(database: SqlDatabase, revision: str = "-1") -> SchemaState:
    return _run(database, command.downgrade, revision)


def _run(database: SqlDatabase, step: Callable[[Config, str], None], revision: str) -> SchemaState:
    try:
        with database.write() as conn:
            step(alembic_config(conn), revision)
    except (CommandError, RevisionError) as exc:
        raise MigrationError(" ".join(str(exc).split())) from None
    return state(database)
