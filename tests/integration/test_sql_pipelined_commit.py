"""A placement on PostgreSQL sends its writes and COMMIT in one pipeline
(adapters/sql/pipelined_commit.py): what it writes, and what happens when a write
fails at the sync instead of when it was sent."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, func, select

from adapters.sql import pipelined_commit
from adapters.sql.repositories import write_queue
from adapters.sql.repositories.statements import RESERVATION_INSERT, STOCK_RESERVE, STOCK_UPDATE
from adapters.sql.repositories.write_queue import WriteQueue
from adapters.sql.tables import order_lines, orders, outbox, stock_reservations
from adapters.system import FixedClock
from core.domain.errors import InsufficientStock
from core.domain.orders import Order, RequestedLine
from core.ports.errors import ConcurrencyConflict
from core.ports.unit_of_work import UnitOfWork
from core.use_cases.inventory import AdjustStockCommand
from core.use_cases.ordering import PlaceOrderCommand
from entrypoints.container import Container
from tests.contract.builders import reserve_and_place
from tests.integration.sql_shop import HOT, PLENTY, sql_container, stock_shop

pytestmark = pytest.mark.postgres


@pytest.fixture
def shop(postgres_url: str, clock: FixedClock) -> Iterator[Container]:
    with sql_container(postgres_url, clock) as container:
        stock_shop(container, 5)
        yield container


@pytest.fixture
def one_trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many writes each one-trip commit sent (a spy on the real function)."""
    sent: list[int] = []
    real = pipelined_commit.commit_in_one_trip

    def spy(conn: object, steps: list[list[object]]) -> None:
        sent.append(sum(len(step) for step in steps))
        real(conn, steps)  # type: ignore[arg-type]

    monkeypatch.setattr("adapters.sql.unit_of_work.commit_in_one_trip", spy)
    return sent


def _counts(container: Container) -> tuple[int, int, int, int]:
    with container.database().read() as conn:
        return (
            conn.execute(select(func.count()).select_from(orders)).scalar_one(),
            conn.execute(select(func.count()).select_from(order_lines)).scalar_one(),
            conn.execute(select(func.count()).select_from(stock_reservations)).scalar_one(),
            conn.execute(select(func.count()).where(outbox.c.type == "OrderPlaced")).scalar_one(),
        )


_NOW = datetime(2026, 12, 2, tzinfo=UTC)


def _reserve_unlocked(uow: UnitOfWork, order_id: str, lines: dict[str, int]) -> Order:
    """What PlaceOrder writes (stock read without a lock, then reserved), uncommitted."""
    return reserve_and_place(uow, order_id, lines, _NOW, lock=False)


def test_a_placement_commits_every_write_in_one_trip(shop: Container, one_trips: list[int]) -> None:
    placed = shop.place_order()(
        PlaceOrderCommand("c1", [RequestedLine(HOT, 2), RequestedLine(PLENTY, 3)])
    )
    # The order, 2 lines, 1 outbox row, 2 reservations, 2 stock reservations.
    assert one_trips == [8]
    assert _counts(shop) == (1, 2, 2, 1)
    assert shop.queries().get_order(placed.order.id) == placed.order
    hot = shop.queries().get_stock(HOT)
    assert hot is not None and (hot.on_hand, hot.reserved) == (5, 2)


class _Traced:
    """libpq's own trace of every connection `engine` checks out while it is on: what
    each one sent, as round trips (each ends with the frontend's Sync or simple Query,
    which the server answers with ReadyForQuery)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._dir = Path(tempfile.mkdtemp(prefix="libpq-trace-"))
        self._descriptors: list[int] = []
        self._conns: list[Any] = []
        self._texts: list[str] = []

    def __enter__(self) -> _Traced:
        event.listen(self._engine, "checkout", self._trace)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self._engine, "checkout", self._trace)
        for conn in self._conns:
            if not conn.closed:
                conn.pgconn.untrace()
        for n, descriptor in enumerate(self._descriptors):
            os.close(descriptor)
            self._texts.append((self._dir / str(n)).read_text())
        shutil.rmtree(self._dir)

    def _trace(self, dbapi_connection: Any, *_: Any) -> None:
        if dbapi_connection in self._conns:
            return
        path = self._dir / str(len(self._descriptors))
        descriptor = os.open(path, os.O_CREAT | os.O_WRONLY)
        dbapi_connection.pgconn.trace(descriptor)
        dbapi_connection.pgconn.set_trace_flags(
            psycopg.pq.Trace.SUPPRESS_TIMESTAMPS | psycopg.pq.Trace.REGRESS_MODE
        )
        self._descriptors.append(descriptor)
        self._conns.append(dbapi_connection)

    def round_trips(self) -> list[list[list[str]]]:
        """Per connection, its round trips, each the frontend's message types (once the
        block has ended)."""
        everyone = []
        for text in self._texts:
            trips: list[list[str]] = [[]]
            for line in text.splitlines():
                fields = line.split("\t")
                if len(fields) < 3 or fields[0] != "F":
                    continue
                kind = fields[2]
                trips[-1].append(kind)
                if kind in ("Sync", "Query"):
                    trips.append([])
            everyone.append(trips[:-1])
        return everyone


def test_a_placement_reads_once_then_sends_every_write_in_the_pipeline(shop: Container) -> None:
    """Its products and stock in one SELECT, outside any transaction; then one round
    trip, the writes ending with the Sync that commits them (late_begin.py,
    pipelined_commit.py)."""
    sent: list[tuple[str, bool]] = []

    def first_word(query: Any) -> str:
        text = query.decode() if isinstance(query, bytes) else str(query)
        return text.split()[0]

    class Counting(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            sent.append((first_word(query), self.connection._pipeline is not None))
            return super().execute(query, params, **kwargs)

        def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
            sent.append((first_word(query), self.connection._pipeline is not None))
            super().executemany(query, params_seq, **kwargs)

    engine = shop.database().engine

    @event.listens_for(engine, "checkout")
    def _count(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.cursor_factory = Counting

    with _Traced(engine) as traced:
        shop.place_order()(
            PlaceOrderCommand("c1", [RequestedLine(PLENTY, 1), RequestedLine(HOT, 2)])
        )
    assert [statement for statement, piped in sent if not piped] == ["SELECT"]
    # In the pipeline, no BEGIN and no COMMIT: in autocommit, its one Sync ends the
    # implicit transaction that holds all three (late_begin.py).
    assert [statement for statement, piped in sent if piped] == [
        "WITH",  # the order, its lines and the outbox row: one INSERT (insert_together)
        "UPDATE",  # the stock, in SKU order
        "INSERT",  # the reservations, in SKU order, after it (decision 0034)
    ]
    # Two round trips on the one connection: the read, then the pipeline (no BEGIN of
    # psycopg's own, which is a simple Query, and one Sync at the pipeline's end).
    [trips] = traced.round_trips()
    assert len(trips) == 2
    assert all(message != "Query" for trip in trips for message in trip)
    assert trips[0][-1] == trips[1][-1] == "Sync"
    hot = shop.queries().get_stock(HOT)
    assert hot is not None and (hot.on_hand, hot.reserved) == (5, 2)


def test_a_connection_goes_back_to_its_pool_in_a_transaction_mode(shop: Container) -> None:
    """After a placement that committed and one whose pipeline failed (stock taken
    after its read), neither in autocommit: the next unit of work on the connection
    begins a transaction as usual."""
    returned: list[bool] = []

    @event.listens_for(shop.database().engine, "checkin")
    def _returned(dbapi_connection: Any, *_: Any) -> None:
        if dbapi_connection is not None:
            returned.append(dbapi_connection.autocommit)

    shop.place_order()(PlaceOrderCommand("c1", [RequestedLine(HOT, 1)]))
    with pytest.raises(ConcurrencyConflict, match="stock changed"), shop.uow_factory()() as uow:
        _reserve_unlocked(uow, "late", {HOT: 4})
        shop.place_order()(PlaceOrderCommand("c2", [RequestedLine(HOT, 3)]))
        uow.commit()
    assert returned and not any(returned)
    with shop.uow_factory()() as uow:  # the next unit of work: writes in a transaction
        stock = uow.stock.get_many([PLENTY])[PLENTY]
        driver = uow.stock._conn.connection.dbapi_connection
        assert driver is not None and not driver.autocommit
        assert driver.pgconn.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        stock.set_on_hand(stock.on_hand + 1, _NOW)
        uow.stock.save(stock)
        uow.commit()
    assert _counts(shop) == (2, 2, 2, 2)


def test_a_failure_on_this_side_mid_pipeline_commits_nothing(
    shop: Container, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The order, its lines and the outbox row are already sent when the next write
    fails before it is sent (here a stand-in for a refused value or a bug): the Sync
    at the pipeline's end must not commit them (pipelined_commit._roll_back_before_sync)."""
    real = write_queue.send_steps
    calls: list[int] = []

    def failing(conn: Any, steps: Any, *, one_trip: bool = False) -> None:
        calls.append(1)
        if len(calls) == 2:  # after send_one_trip's insert_together: the reservations
            raise RuntimeError("refused on this side")
        real(conn, steps, one_trip=one_trip)

    monkeypatch.setattr(write_queue, "send_steps", failing)
    with pytest.raises(RuntimeError, match="refused on this side"):
        shop.place_order()(PlaceOrderCommand("c1", [RequestedLine(HOT, 2)]))
    assert _counts(shop) == (0, 0, 0, 0)
    hot = shop.queries().get_stock(HOT)
    assert hot is not None and (hot.on_hand, hot.reserved) == (5, 0)
    monkeypatch.setattr(write_queue, "send_steps", real)
    shop.place_order()(PlaceOrderCommand("c1", [RequestedLine(HOT, 2)]))  # all still works
    assert _counts(shop) == (1, 1, 1, 1)
    assert [r.getMessage() for r in caplog.records if r.name == "psycopg"] == []


def test_a_keyed_one_line_placement_inserts_its_new_rows_in_one_statement(
    shop: Container,
) -> None:
    """One line (no recordset for the lines) and an idempotency key (its record is
    inserted at once, before the pipeline: its primary key decides between concurrent
    retries): the order, its line and the outbox row in the one INSERT, foreign keys
    and all; the same request again replays the answer the record kept."""
    sent: list[str] = []

    class Counting(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            if self.connection._pipeline is not None:
                sent.append(query.decode() if isinstance(query, bytes) else str(query))
            return super().execute(query, params, **kwargs)

    @event.listens_for(shop.database().engine, "checkout")
    def _count(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.cursor_factory = Counting

    command = PlaceOrderCommand("c1", [RequestedLine(PLENTY, 2)], idempotency_key="k-1")
    placed = shop.place_order()(command)
    assert not placed.replayed
    assert [sql.split()[0] for sql in sent] == ["WITH", "UPDATE", "INSERT"]
    together, stock, reservation = sent
    assert reservation.startswith("INSERT INTO stock_reservations ")
    assert stock.startswith("UPDATE stock ")
    for table in ("orders", "order_lines", "outbox"):
        assert f"INSERT INTO {table} " in together
    assert _counts(shop) == (1, 1, 1, 1)
    again = shop.place_order()(command)
    assert again.replayed and again.order == placed.order
    assert _counts(shop) == (1, 1, 1, 1)


def test_a_stock_row_written_in_the_unit_of_work_is_read_again(shop: Container) -> None:
    """The stock read along with the products is used only while nothing in the unit of
    work has written that row."""
    with shop.uow_factory()() as uow:
        assert uow.products.get_many([HOT], lock=False)
        locked = uow.stock.get_many([HOT])[HOT]  # a locking read: not the kept row
        locked.set_on_hand(8, _NOW)
        uow.stock.save(locked)
        assert uow.stock.get_many([HOT], lock=False)[HOT].on_hand == 8
        uow.commit()


def test_stock_taken_after_the_read_fails_the_commit_and_writes_nothing(
    shop: Container, one_trips: list[int]
) -> None:
    with pytest.raises(ConcurrencyConflict, match="stock changed"), shop.uow_factory()() as uow:
        _reserve_unlocked(uow, "late", {HOT: 4, PLENTY: 1})
        # Meanwhile another placement takes 3 of the 5: 4 no longer fit.
        shop.place_order()(PlaceOrderCommand("c2", [RequestedLine(HOT, 3)]))
        uow.commit()
    assert len(one_trips) == 2  # the winner's, then ours
    assert _counts(shop) == (1, 1, 1, 1)  # the winner's order only
    hot = shop.queries().get_stock(HOT)
    assert hot is not None and (hot.on_hand, hot.reserved) == (5, 3)
    # Through the use case, the retry reads again and reports the shortage.
    with pytest.raises(InsufficientStock):
        shop.place_order()(PlaceOrderCommand("c1", [RequestedLine(HOT, 4)]))


def test_an_existing_order_id_fails_the_commit_as_a_lost_race(
    shop: Container, one_trips: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    with shop.uow_factory()() as uow:
        _reserve_unlocked(uow, "same-id", {HOT: 1})
        uow.commit()
    with (
        pytest.raises(ConcurrencyConflict, match="added concurrently"),
        shop.uow_factory()() as uow,
    ):
        _reserve_unlocked(uow, "same-id", {PLENTY: 1})
        uow.commit()
    assert len(one_trips) == 2
    assert _counts(shop) == (1, 1, 1, 1)
    assert [r.getMessage() for r in caplog.records if r.name == "psycopg"] == []
    plenty = shop.queries().get_stock(PLENTY)
    assert plenty is not None and plenty.reserved == 0
    # The connection is usable again for the next unit of work.
    shop.place_order()(PlaceOrderCommand("c1", [RequestedLine(PLENTY, 1)]))
    assert len(one_trips) == 3


def test_other_units_of_work_check_their_row_counts_before_commit(
    shop: Container, one_trips: list[int]
) -> None:
    shop.adjust_stock()(AdjustStockCommand(HOT, 7, "recount"))  # a versioned stock UPDATE
    with shop.uow_factory()() as uow:  # a placement that also changes a product's price
        _reserve_unlocked(uow, "mixed", {HOT: 1})
        product = uow.products.get(PLENTY)
        assert product is not None and product.update(product.updated_at, price=101)
        uow.products.save(product)
        uow.commit()
    assert one_trips == []
    assert _counts(shop) == (1, 1, 1, 1)
    hot = shop.queries().get_stock(HOT)
    assert hot is not None and (hot.on_hand, hot.reserved) == (12, 1)


def test_only_a_placements_writes_are_ready_for_one_trip() -> None:
    queue = WriteQueue(conn=None, defer_inserts=True)  # type: ignore[arg-type]
    assert not queue.one_trip_ready()  # nothing reserved
    queue.put(WriteQueue.RESERVATIONS, "r", "o1", RESERVATION_INSERT, {"sku": "A"})
    queue.put(WriteQueue.STOCK_RESERVES, "stock", "A", STOCK_RESERVE, {"k_sku": "A"})
    assert queue.one_trip_ready()
    # A reservation of a SKU with no reservation row inserted: its stock row may be gone.
    queue.put(WriteQueue.STOCK_RESERVES, "stock", "B", STOCK_RESERVE, {"k_sku": "B"})
    assert not queue.one_trip_ready()
    queue.put(WriteQueue.RESERVATIONS, "r", "o1", RESERVATION_INSERT, {"sku": "B"})
    assert queue.one_trip_ready()
    # A versioned UPDATE needs its row count before COMMIT.
    queue.put(WriteQueue.STOCK_UPDATES, "stock", "C", STOCK_UPDATE, {"k_sku": "C"})
    assert not queue.one_trip_ready()
