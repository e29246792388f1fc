"""No oversell under real concurrency: many buyers, one SKU with 20 units left.

SQLite: 50 threads of one process share the engine (writers queue for the single
write lock). PostgreSQL: 8 processes, each with its own pool and 4 buyer
threads (row locks in SKU order, version-checked saves). Every buyer wants one
unit; exactly 20 get one, everyone else is refused with insufficient_stock, and
no other error escapes. A watcher samples the stock row throughout.

Also: concurrent retries of one request with the same Idempotency-Key place one
order, and every retry gets that order back.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.pool import NullPool

from adapters.sql.tables import orders, outbox, stock_reservations
from adapters.system import FixedClock
from core.domain.orders import RequestedLine
from core.domain.principals import Role
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.inventory import AdjustStockCommand
from core.use_cases.ordering import CancelOrderCommand, PlaceOrderCommand, PlaceOrderResult
from core.use_cases.support import Actor
from entrypoints.container import Container
from tests.integration.messaging_support import wait_until
from tests.integration.sql_shop import (
    HOT,
    PLENTY,
    SQL_BACKENDS,
    StockWatcher,
    buy,
    buyer_process,
    database_url_for,
    migrated_container,
    sql_container,
    stock_shop,
)

UNITS = 20


def _assert_exactly_sold_out(container: Container, outcomes: Counter[str], buyers: int) -> None:
    unexpected = {k: v for k, v in outcomes.items() if k not in {"placed", "insufficient_stock"}}
    assert unexpected == {}, f"errors other than insufficient_stock escaped: {unexpected}"
    assert outcomes["placed"] == UNITS
    assert outcomes["insufficient_stock"] == buyers - UNITS
    view = container.queries().get_stock(HOT)
    assert view is not None
    assert (view.on_hand, view.reserved, view.available) == (UNITS, UNITS, 0)
    with container.database().read() as conn:
        held = conn.execute(
            select(func.count(), func.sum(stock_reservations.c.quantity)).where(
                stock_reservations.c.sku == HOT
            )
        ).one()
        order_count = conn.execute(select(func.count()).select_from(orders)).scalar_one()
        placed_events = conn.execute(
            select(func.count()).where(outbox.c.type == "OrderPlaced")
        ).scalar_one()
    assert tuple(held) == (UNITS, UNITS)  # one reservation of one unit per placed order
    assert order_count == placed_events == UNITS


def test_fifty_threads_on_sqlite_never_oversell(tmp_path: Path) -> None:
    container = migrated_container(f"sqlite:///{tmp_path / 'shop.db'}")
    stock_shop(container, UNITS)
    buyers = 50
    start = threading.Barrier(buyers)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(buyer: int) -> None:
        start.wait()
        outcome = buy(container, buyer)
        with lock:
            outcomes[outcome] += 1

    watcher = StockWatcher(container, HOT)
    watcher.start()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    watcher.stop()
    assert not any(thread.is_alive() for thread in threads)
    assert watcher.violations == [] and watcher.samples > 0
    _assert_exactly_sold_out(container, outcomes, buyers)
    container.database().dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_eight_processes_on_postgresql_never_oversell(postgres_url: str) -> None:
    container = migrated_container(postgres_url)
    stock_shop(container, UNITS)
    processes, threads, orders_each = 8, 4, 2
    buyers = processes * threads * orders_each
    # Fresh processes (not forks of this threaded one), forked from a server that has
    # imported the application once, so that eight of them start in well under a second.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.integration.sql_shop"])
    start = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [
        ctx.Process(
            target=buyer_process,
            args=(results, postgres_url, p * threads * orders_each, threads, orders_each, start),
        )
        for p in range(processes)
    ]
    watcher = StockWatcher(container, HOT)
    watcher.start()
    for worker in workers:
        worker.start()
    outcomes: Counter[str] = Counter()
    try:
        for _ in workers:
            outcomes.update(results.get(timeout=120))
    except queue.Empty:
        pytest.fail(f"a buyer process did not report; so far: {dict(outcomes)}")
    finally:
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                worker.kill()
        watcher.stop()
    assert all(worker.exitcode == 0 for worker in workers)
    assert watcher.violations == [] and watcher.samples > 0
    _assert_exactly_sold_out(container, outcomes, buyers)
    container.database().dispose()


@pytest.mark.parametrize("database_url", SQL_BACKENDS, indirect=True)
def test_concurrent_retries_with_one_idempotency_key_place_one_order(
    database_url: str, clock: FixedClock
) -> None:
    with sql_container(database_url, clock) as container:
        stock_shop(container, UNITS)
        place = container.place_order()
        command = PlaceOrderCommand(
            "customer-1", [RequestedLine(HOT, 2), RequestedLine(PLENTY, 1)], idempotency_key="k"
        )
        retries = 12
        start = threading.Barrier(retries)
        results: list[PlaceOrderResult | BaseException] = []

        def retry() -> None:
            start.wait()
            try:
                results.append(place(command))
            except BaseException as exc:
                results.append(exc)

        threads = [threading.Thread(target=retry) for _ in range(retries)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        placed = [r for r in results if isinstance(r, PlaceOrderResult)]
        assert len(placed) == retries, [r for r in results if not isinstance(r, PlaceOrderResult)]
        assert len({r.order.id for r in placed}) == 1
        assert sorted(r.replayed for r in placed) == [False] + [True] * (retries - 1)
        assert all(r.order == placed[0].order for r in placed)
        view = container.queries().get_stock(HOT)
        assert view is not None and view.reserved == 2
        assert len(container.queries().list_orders(None, None, None, 100)) == 1


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url_for(request, tmp_path)


def test_a_placement_on_postgresql_waits_for_no_product_row_lock(postgres_url: str) -> None:
    """A placement reads its products without a row lock. Held to its commit, that lock
    queued every order of a hot SKU behind the one before, and it deadlocked with a
    stock update's foreign-key check (`FOR KEY SHARE` on the product) in the worker,
    which held the stock row the placement was about to reserve (seen in CI).

    Another transaction holds both products' rows `FOR UPDATE`, as a price change
    does, while an order is placed: the placement must finish without waiting."""
    container = migrated_container(postgres_url)
    stock_shop(container, UNITS)
    placed: queue.Queue[str] = queue.Queue()
    with container.database().engine.connect() as other:
        other.execute(text("SELECT sku FROM products FOR UPDATE"))
        thread = threading.Thread(target=lambda: placed.put(buy(container, 1)))
        thread.start()
        try:
            # Generous: a placement that waits for the lock never finishes before it
            # is released, whatever the machine's speed.
            outcome = placed.get(timeout=30)
        except queue.Empty:
            outcome = "still waiting for the product rows"
        finally:
            other.rollback()
            thread.join()
    assert outcome == "placed"
    container.database().dispose()


class _WaitingPlacement:
    """A placement caught waiting for its hot stock row, which another transaction
    holds as a placement does from its stock UPDATE to its COMMIT."""

    def __init__(self, watcher: Connection) -> None:
        self.watcher = watcher
        self.pid = 0

    def tables_written(self) -> set[str]:
        """The tables the waiting placement holds write locks on (has written to)."""
        return set(
            self.watcher.execute(
                text(
                    "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                    " WHERE l.pid = :pid AND l.mode = 'RowExclusiveLock'"
                ),
                {"pid": self.pid},
            ).scalars()
        )


@contextmanager
def _placement_waiting_for_a_stock_row(postgres_url: str) -> Iterator[_WaitingPlacement]:
    container = migrated_container(postgres_url)
    stock_shop(container, UNITS)
    placed: queue.Queue[str] = queue.Queue()
    engine = container.database().engine
    # The activity view is read from a connection of its own, outside a transaction
    # (within one, it is a snapshot taken at its first read).
    with (
        engine.connect() as other,
        engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher,
    ):
        other.execute(text("UPDATE stock SET reserved = reserved WHERE sku = :sku"), {"sku": HOT})
        waiting = _WaitingPlacement(watcher)

        def placement_waits() -> bool:
            pids = watcher.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE 'UPDATE stock%'"
                )
            ).scalars()
            waiting.pid = next(iter(pids), 0)
            return waiting.pid != 0

        thread = threading.Thread(target=lambda: placed.put(buy(container, 1)))
        thread.start()
        try:
            wait_until(placement_waits, "the placement to wait")
            yield waiting
        finally:
            other.rollback()
            thread.join()
    assert placed.get_nowait() == "placed"
    container.database().dispose()


def test_a_placement_on_postgresql_locks_its_stock_rows_last(postgres_url: str) -> None:
    """The conditional stock UPDATE comes after the placement's new rows, followed only
    by its reservations and the COMMIT: the hot rows stay locked for those statements
    only. Caught waiting for a stock row another placement holds, the placement has
    already written its order, its lines and its outbox row (it holds those tables'
    write locks), and not yet its reservations, whose foreign-key checks lock the stock
    row (decision 0034)."""
    with _placement_waiting_for_a_stock_row(postgres_url) as waiting:
        tables = waiting.tables_written()
    assert {"orders", "order_lines", "outbox"} <= tables, tables
    assert "stock_reservations" not in tables, tables


def test_a_waiting_placement_shares_no_lock_on_the_hot_stock_row(postgres_url: str) -> None:
    """The row a placement waits for stays locked by its holder alone. When the
    reservations' foreign-key checks came first, the waiting placement's KEY SHARE
    joined the holder's lock: a MultiXact for every waiter, and on three hot SKUs
    PostgreSQL's MultiXact caches thrashed until orders/s fell by a third in 50 s of
    load (decision 0034). `pgrowlocks` shows the row's lockers as the server keeps them."""
    with _placement_waiting_for_a_stock_row(postgres_url) as waiting:
        waiting.watcher.execute(text("CREATE EXTENSION IF NOT EXISTS pgrowlocks"))
        locks = waiting.watcher.execute(
            text(
                "SELECT s.sku, l.multi, l.modes FROM stock s"
                " JOIN pgrowlocks('stock') l ON l.locked_row = s.ctid"
            )
        ).all()
    assert [(sku, multi, list(modes)) for sku, multi, modes in locks] == [
        (HOT, False, ["No Key Update"])
    ]


def _other_backends(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        )


def test_placements_cancellations_and_stock_changes_on_postgresql_never_deadlock(
    postgres_url: str,
) -> None:
    """Everything that locks stock rows at once, on four SKUs: placements of two or
    three lines in any order (the reserving UPDATE, then the reservations' foreign-key
    checks), cancellations releasing stock (FOR UPDATE, then versioned UPDATEs) and an
    admin adjusting stock. The use cases retry a deadlock, so the server's own count
    of deadlocks is what must stay at zero."""
    container = migrated_container(postgres_url)
    skus = [f"DL-{n}" for n in range(4)]
    for sku in skus:
        container.create_product()(CreateProductCommand(sku, sku, 100, on_hand=100_000))
    placed: queue.Queue[str] = queue.Queue()
    errors: list[BaseException] = []
    admin = Actor("admin", Role.ADMIN)

    def guarded(work: Callable[[int], None]) -> Callable[[int], None]:
        def run(n: int) -> None:
            try:
                work(n)
            except BaseException as exc:  # what the test looks for
                errors.append(exc)

        return run

    @guarded
    def place(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            lines = [RequestedLine(sku, 1) for sku in rng.sample(skus, rng.choice((2, 3)))]
            placed.put(str(container.place_order()(PlaceOrderCommand("c", lines)).order.id))

    @guarded
    def cancel(_: int) -> None:
        for _ in range(40):
            order_id = placed.get(timeout=60)
            container.cancel_order()(CancelOrderCommand(order_id, admin))

    @guarded
    def adjust(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            container.adjust_stock()(AdjustStockCommand(rng.choice(skus), 1, "restock"))

    threads = [threading.Thread(target=place, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=cancel, args=(n,)) for n in range(2)]
    threads += [threading.Thread(target=adjust, args=(7,))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # A backend reports its deadlocks to the statistics at the latest when it exits.
    container.database().dispose()
    engine = create_engine(postgres_url, poolclass=NullPool)
    try:
        wait_until(lambda: _other_backends(engine) == 0, "the placements' backends to exit")
        with engine.connect() as conn:
            deadlocks = conn.execute(
                text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
            ).scalar_one()
            held: dict[str, int] = dict(
                conn.execute(
                    text("SELECT sku, sum(quantity) FROM stock_reservations GROUP BY sku")
                ).all()
            )
            reserved: dict[str, int] = dict(
                conn.execute(text("SELECT sku, reserved FROM stock")).all()
            )
    finally:
        engine.dispose()
    assert deadlocks == 0
    assert {sku: reserved[sku] for sku in skus} == {sku: held.get(sku, 0) for sku in skus}
