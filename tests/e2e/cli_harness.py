"""Drive `orderly` through click's test runner on a given container (memory or SQLite).

Every invocation gets a fresh CliState on the same container, like separate
runs of the command against one database.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from adapters.system import FixedClock
from core.domain.orders import RequestedLine
from core.ports.queries import OrderView
from core.use_cases.ordering import PlaceOrderCommand
from entrypoints.cli.main import cli
from entrypoints.cli.support import CliState
from entrypoints.container import Container, build_container
from entrypoints.delivery import start_delivery
from entrypoints.settings import Settings

STORAGES = ["memory", "sqlite"]


def customer(cli: Cli, name: str) -> str:
    """Create a customer through the CLI; returns its id."""
    created = cli.json("users", "create", name, "--role", "customer")
    assert isinstance(created["id"], str)
    return created["id"]


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'orderly.db'}"


_TEMPLATE: tempfile.TemporaryDirectory[str] | None = None


def _schema_template() -> Path:
    """An empty SQLite database with the schema, built once per test run and copied
    for each test (creating the schema costs far more than copying a file)."""
    global _TEMPLATE
    if _TEMPLATE is None:
        from sqlalchemy import create_engine

        from adapters.sql.tables import create_schema

        _TEMPLATE = tempfile.TemporaryDirectory(prefix="orderly-cli-")
        engine = create_engine(sqlite_url(Path(_TEMPLATE.name)))
        create_schema(engine)
        engine.dispose()
    return Path(_TEMPLATE.name) / "orderly.db"


def make_container(
    storage: str, tmp_path: Path, clock: FixedClock, deliver: bool = True
) -> Container:
    """A container on `storage` with the schema in place and a fixed clock.

    `deliver=False` leaves events in the outbox, so placed orders stay pending_payment.
    The SQLite schema is created with the SQL package's `create_schema`, the same
    schema the migrations build (the SQL suite compares them).
    """
    if storage == "memory":
        container = build_container(Settings(database_url="memory://"))
    else:
        shutil.copyfile(_schema_template(), tmp_path / "orderly.db")
        container = build_container(Settings(database_url=sqlite_url(tmp_path)))
    container.clock.override(clock)
    if deliver and storage == "memory":
        # Memory delivers in the committing thread. SQLite would start a relay thread
        # here; tests drain the outbox explicitly instead (Cli.deliver), deterministically.
        start_delivery(container)
    return container


class Cli:
    def __init__(self, container: Container, deliver: bool = True) -> None:
        self.container = container
        self.delivers = deliver
        self.runner = CliRunner()

    def __call__(self, *args: str, env: Mapping[str, str | None] | None = None) -> Result:
        return self.runner.invoke(cli, list(args), obj=CliState(self.container), env=env)

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.exit_code == 0, (result.output, result.exception)
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def refused(self, *args: str) -> str:
        """Exit 1 with exactly one line on stderr and no traceback; returns that line."""
        result = self(*args)
        assert result.exit_code == 1, (result.output, result.exception)
        assert isinstance(result.exception, SystemExit), result.exception
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
        assert "Traceback" not in result.output
        return lines[0].removeprefix("Error: ")

    def bad_usage(self, *args: str) -> str:
        result = self(*args)
        assert result.exit_code == 2, (result.output, result.exception)
        assert "Traceback" not in result.output
        return result.stderr

    def place_order(self, customer_id: str, *lines: tuple[str, int]) -> OrderView:
        """What a customer does through the API; the saga runs before it returns."""
        placed = self.container.place_order()(
            PlaceOrderCommand(customer_id, [RequestedLine(sku, qty) for sku, qty in lines])
        )
        if self.delivers:
            self.deliver()
        return placed.order

    def deliver(self) -> None:
        """Run the handlers of committed events now (SQLite has no relay thread here)."""
        self.container.sync_relay().drain()


def close(container: Container) -> None:
    """Release what the container opened (the SQL engine's connections)."""
    if container.config.storage() == "sql":
        container.database().dispose()
    container.unwire()
