"""Alembic environment for Orderly.

`orderly db ...` (adapters/sql/migrate.py) hands over an open connection in a
write transaction; the alembic command line gets its URL from ORDERLY_DATABASE_URL.
Either way the engine comes from SqlDatabase, so SQLite gets the same pragmas
(foreign keys, WAL, busy timeout) as the application.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from adapters.sql.database import SqlDatabase
from adapters.sql.tables import metadata

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("ORDERLY_DATABASE_URL")
    if not url:
        raise SystemExit("set ORDERLY_DATABASE_URL to the database to migrate")
    return url


def run_offline() -> None:
    """`alembic upgrade --sql`: print the DDL instead of running it."""
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    database = SqlDatabase.from_url(_url())
    try:
        with database.write() as conn:
            _configure(conn)
    finally:
        database.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
