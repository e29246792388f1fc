"""`orderly db`: schema migrations of the SQL database (Alembic)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from entrypoints.cli.support import container, echo_json, refusals

if TYPE_CHECKING:  # SQLAlchemy and Alembic load only when a command runs, not for --help
    from adapters.sql.database import SqlDatabase
    from adapters.sql.migrate import SchemaState


@click.group()
def db() -> None:
    """Migrate the database named by ORDERLY_DATABASE_URL.

    Run `orderly db upgrade` after installing or updating Orderly, before
    `orderly serve`. Migrations run in one transaction: a failed one changes nothing.
    """


def _database() -> SqlDatabase:
    c = container()
    if c.config.storage() != "sql":
        raise click.ClickException(
            "ORDERLY_DATABASE_URL is memory://: in-memory storage has no schema to migrate"
        )
    database: SqlDatabase = c.database()
    return database


def _describe(state: SchemaState) -> str:
    current = state.current or "none (empty database)"
    return f"{current} (head)" if state.up_to_date else f"{current}; head is {state.head}"


@db.command()
@click.argument("revision", default="head")
@refusals
def upgrade(revision: str) -> None:
    """Migrate up to REVISION (default: head, the latest)."""
    from adapters.sql import migrate

    database = _database()
    before = migrate.state(database)
    try:
        after = migrate.upgrade(database, revision)
    except migrate.MigrationError as exc:
        raise click.ClickException(str(exc)) from None
    if after.current == before.current:
        click.echo(f"Schema already at {_describe(after)}.")
    else:
        click.echo(
            f"Upgraded {database.url} from {before.current or 'empty'} to {_describe(after)}."
        )


@db.command()
@click.argument("revision", default="-1")
@refusals
def downgrade(revision: str) -> None:
    """Migrate down to REVISION (default: -1, one step; `base` empties the database).

    Downgrading drops the tables the undone migrations created, with their data.
    """
    from adapters.sql import migrate

    database = _database()
    before = migrate.state(database)
    if before.current is None:
        raise click.ClickException("nothing to downgrade: no migration has run on this database")
    try:
        after = migrate.downgrade(database, revision)
    except migrate.MigrationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Downgraded {database.url} from {before.current or 'empty'} "
        f"to {after.current or 'none (empty database)'}."
    )


@db.command()
@click.option("--json", "as_json", is_flag=True, help="Print {current, head, up_to_date}.")
@refusals
def current(as_json: bool) -> None:
    """Show the schema revision of the database and the latest one available."""
    from adapters.sql import migrate

    state = migrate.state(_database())
    if as_json:
        echo_json({"current": state.current, "head": state.head, "up_to_date": state.up_to_date})
        return
    click.echo(_describe(state))
    if not state.up_to_date:
        click.echo("Run `orderly db upgrade` to migrate.")


def register(cli: click.Group) -> None:
    """Add this family's commands to the `orderly` group."""
    cli.add_command(db)
