"""A placement on PostgreSQL sends its writes and COMMIT in one pipeline
(adapters/sql/pipelined_commit.py): what it writes, and what happens when a write
fails at the sync instead of when it was sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, func, select

from adapters.sql import pipelined_commit
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


def test_a_placement_reads_once_then_sends_every_write_in_the_pipeline(shop: Container) -> None:
    """Its products and stock in one SELECT; nothing else outside the pipeline (BEGIN
    and COMMIT are the driver's own commands, not cursor statements)."""
    sent: list[tuple[str, bool]] = []

    class Counting(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            sent.append((str(query).split()[0], self.connection._pipeline is not None))
            return super().execute(query, params, **kwargs)

        def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
            sent.append((str(query).split()[0], self.connection._pipeline is not None))
            super().executemany(query, params_seq, **kwargs)

    @event.listens_for(shop.database().engine, "checkout")
    def _count(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.cursor_factory = Counting

    shop.place_order()(PlaceOrderCommand("c1", [RequestedLine(PLENTY, 1), RequestedLine(HOT, 2)]))
    assert [statement for statement, piped in sent if not piped] == ["SELECT"]
    assert [statement for statement, piped in sent if piped] == [
        "WITH",  # the order, its lines and the outbox row: one INSERT (insert_together)
        "INSERT",  # the reservations, in SKU order
        "UPDATE",  # the stock, in SKU order
    ]
    hot = shop.queries().get_stock(HOT)
    assert hot is not None and (hot.on_hand, hot.reserved) == (5, 2)


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
                sent.append(str(query))
            return super().execute(query, params, **kwargs)

    @event.listens_for(shop.database().engine, "checkout")
    def _count(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.cursor_factory = Counting

    command = PlaceOrderCommand("c1", [RequestedLine(PLENTY, 2)], idempotency_key="k-1")
    placed = shop.place_order()(command)
    assert not placed.replayed
    assert [sql.split()[0] for sql in sent] == ["WITH", "INSERT", "UPDATE"]
    together, reservation, stock = sent
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
