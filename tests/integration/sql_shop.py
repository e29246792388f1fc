"""Helpers for the SQL integration tests: a migrated container, and a buyer process.

`buyer_process` runs in separate processes (forkserver), so it lives in a small
module of its own rather than in a test module.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from adapters.sql.database import SqlDatabase
from adapters.sql.tables import create_schema
from adapters.system import FixedClock
from core.domain.errors import InsufficientStock
from core.domain.orders import RequestedLine
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.ordering import PlaceOrderCommand
from entrypoints.container import Container, build_container
from entrypoints.settings import Settings

HOT = "HOT-1"  # the contended SKU
PLENTY = "PLENTY-1"  # a second SKU on some orders, so locks are taken on two rows


def migrated_container(url: str) -> Container:
    from adapters.sql import migrate  # Alembic is slow to import: not in buyer processes

    container = build_container(Settings(database_url=url))
    migrate.upgrade(container.database())
    return container


def stock_shop(container: Container, hot_units: int) -> None:
    create = container.create_product()
    create(CreateProductCommand(HOT, "Contended", 500, on_hand=hot_units))
    create(CreateProductCommand(PLENTY, "Plentiful", 100, on_hand=100_000))


def buy(container: Container, buyer: int) -> str:
    """Place one order for one HOT unit; the outcome's name, or the unexpected error."""
    # Half the buyers list the SKUs the other way round: locks must still not deadlock.
    lines = [RequestedLine(HOT, 1), RequestedLine(PLENTY, 1)]
    if buyer % 2:
        lines.reverse()
    try:
        container.place_order()(PlaceOrderCommand(f"customer-{buyer}", lines))
    except InsufficientStock:
        return "insufficient_stock"
    except Exception as exc:  # anything else is what the test looks for
        return f"unexpected {type(exc).__name__}: {exc}"
    return "placed"


def buy_in_process(
    url: str, first_buyer: int, threads: int, orders_each: int, start: Any
) -> dict[str, int]:
    """One API-like process: its own engine and pool, `threads` buyers at once."""
    container = build_container(Settings(database_url=url))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(thread: int) -> None:
        for n in range(orders_each):
            outcome = buy(container, first_buyer + thread * orders_each + n)
            with lock:
                outcomes[outcome] += 1

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    start.wait()  # every process starts buying at the same moment
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    container.database().dispose()
    return dict(outcomes)


def buyer_process(results: Any, url: str, first_buyer: int, threads: int, orders_each: int,
                  start: Any) -> None:  # fmt: skip
    """Entry point of a spawned process: report its outcomes (or its crash) on `results`."""
    try:
        results.put(buy_in_process(url, first_buyer, threads, orders_each, start))
    except BaseException as exc:
        results.put({f"process crashed {type(exc).__name__}: {exc}": 1})
        raise


class StockWatcher(threading.Thread):
    """Samples the stock row while buyers run, recording any invariant it ever breaks."""

    def __init__(self, container: Container, sku: str) -> None:
        super().__init__(daemon=True)
        self._queries = container.queries()
        self._sku = sku
        self._halt = threading.Event()
        self.samples = 0
        self.violations: list[str] = []

    def run(self) -> None:
        while not self._halt.is_set():
            view = self._queries.get_stock(self._sku)
            self.samples += 1
            if view is None or not 0 <= view.reserved <= view.on_hand:
                self.violations.append(repr(view))
            self._halt.wait(0.002)  # leave the CPU to the buyers

    def stop(self) -> None:
        self._halt.set()
        self.join(30)


SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def database_url_for(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database: a temp SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'orderly.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@contextmanager
def schema_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlDatabase]:
    """An empty database of the `SQL_BACKENDS` parameter with Orderly's tables,
    disposed of after the block (for tests of the SQL adapter's pieces)."""
    database = SqlDatabase.from_url(database_url_for(request, tmp_path))
    create_schema(database.engine)
    try:
        yield database
    finally:
        database.dispose()


@contextmanager
def sql_container(url: str, clock: FixedClock) -> Iterator[Container]:
    """A container on a freshly migrated database, with a fixed clock and no delivery."""
    container = migrated_container(url)
    container.clock.override(clock)
    try:
        yield container
    finally:
        container.database().dispose()
