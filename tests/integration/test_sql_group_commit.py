"""Group commit of placements on SQLite (entrypoints/http/offload.py, SqlDatabase.group).

Placements queued while the writer is busy share one transaction; a failed
placement that changed nothing leaves the others alone; one that changed rows
before failing spoils the group, which is rolled back and run again one by one.
Whatever happens, every caller is answered with its own result, only after it
is durable, and stock adds up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from core.domain.errors import InsufficientStock, UnorderableProduct
from core.domain.orders import RequestedLine
from core.ports.correlation import correlation
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.ordering import PlaceOrderCommand, PlaceOrderResult
from entrypoints.container import Container
from entrypoints.http.offload import Offload
from tests.e2e.http_support import make_container


@pytest.fixture
def container(tmp_path: Path) -> Container:
    container = make_container("sqlite", tmp_path)
    for sku, on_hand in (("MUG-1", 1000), ("TEE-1", 5)):
        container.create_product()(CreateProductCommand(sku, sku, 100, True, on_hand))
    return container


def _statements(container: Container, starting: str = "") -> list[str]:
    """The SQL the database runs from now on (those starting with `starting`)."""
    seen: list[str] = []
    lock = threading.Lock()

    def trace(sql: str) -> None:
        if sql.upper().startswith(starting):
            with lock:
                seen.append(sql)

    @event.listens_for(container.database().engine, "checkout")
    def _on_checkout(dbapi_conn: Any, *_: Any) -> None:
        dbapi_conn.set_trace_callback(trace)

    return seen


def _commits(container: Container) -> list[str]:
    return _statements(container, "COMMIT")


def _place(container: Container, sku: str, quantity: int, key: str | None = None) -> Any:
    command = PlaceOrderCommand("cust-1", [RequestedLine(sku, quantity)], key)
    return lambda: container.place_order()(command)


async def _all(offload: Offload, calls: list[Any]) -> list[Any]:
    """Every call queued behind a slow write, so the writer finds them all waiting."""
    try:
        busy = asyncio.ensure_future(offload.write(lambda: time.sleep(0.3)))
        await asyncio.sleep(0.05)
        results = await asyncio.gather(*(offload.place(c) for c in calls), return_exceptions=True)
        await busy
        return results
    finally:
        offload.shutdown()


def _offload(container: Container) -> Offload:
    database = container.database()
    return Offload.for_storage("sql", True, database.pool_size, group=database.group)


def test_queued_placements_share_commits_and_each_gets_its_own_answer(
    container: Container,
) -> None:
    commits = _commits(container)
    calls = [_place(container, "MUG-1", 2) for _ in range(40)]
    calls += [_place(container, "TEE-1", 1) for _ in range(8)]  # 5 in stock: 3 refused
    calls += [_place(container, "NOPE-1", 1)]
    results = asyncio.run(_all(_offload(container), calls))

    placed = [r for r in results if isinstance(r, PlaceOrderResult)]
    assert len(placed) == 45
    assert len({r.order.id for r in placed}) == 45
    assert sum(isinstance(r, InsufficientStock) for r in results) == 3
    assert isinstance(results[-1], UnorderableProduct)
    assert len(commits) < 45, "placements queued together were committed together"
    stock = container.product_queries()
    assert stock.stock("MUG-1").reserved == 80 and stock.stock("TEE-1").reserved == 5
    with container.database().read() as conn:
        assert conn.execute(text("SELECT count(*) FROM orders")).scalar() == 45
        outbox = conn.execute(text("SELECT count(*) FROM outbox WHERE type='OrderPlaced'"))
        assert outbox.scalar() == 45


def test_placements_in_one_group_keep_their_own_correlation_ids(container: Container) -> None:
    """Each request's id is in its own context (the request-context middleware sets it);
    `place` carries that context into the writer thread, so the group's shared
    transaction does not mix them up."""
    commits = _commits(container)
    offload = _offload(container)

    async def placed_as(request_id: str) -> Any:
        with correlation(request_id):  # what the middleware does for each request
            return await offload.place(_place(container, "MUG-1", 1))

    async def run() -> list[Any]:
        try:
            busy = asyncio.ensure_future(offload.write(lambda: time.sleep(0.3)))
            await asyncio.sleep(0.05)
            results = await asyncio.gather(*(placed_as(f"req-{n}") for n in range(20)))
            await busy
            return results
        finally:
            offload.shutdown()

    results = asyncio.run(run())
    assert len(commits) < 20, "the placements shared commits"
    expected = {r.order.id: f"req-{n}" for n, r in enumerate(results)}
    with container.database().read() as conn:
        rows = conn.execute(
            text("SELECT subject, correlation_id FROM outbox WHERE type = 'OrderPlaced'")
        )
        assert {subject: correlation_id for subject, correlation_id in rows} == expected


def test_concurrent_retries_with_one_key_in_one_group_give_one_order(
    container: Container,
) -> None:
    calls = [_place(container, "MUG-1", 1, key="same-key") for _ in range(10)]
    results = asyncio.run(_all(_offload(container), calls))
    assert all(isinstance(r, PlaceOrderResult) for r in results), results
    assert len({r.order.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert container.product_queries().stock("MUG-1").reserved == 1


class Spoiler:
    """Changes a row in the group's transaction, then fails."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def __call__(self) -> None:
        with self._container.uow_factory()() as uow:
            assert uow.products.get("MUG-1") is not None
            conn = uow._conn
            conn.execute(text("UPDATE stock SET on_hand = on_hand + 1 WHERE sku = 'MUG-1'"))
            raise RuntimeError("failed after a write")


def test_a_member_failing_after_a_write_spoils_the_group_and_the_rest_run_alone(
    container: Container,
) -> None:
    calls = [_place(container, "MUG-1", 1) for _ in range(5)]
    calls.insert(2, Spoiler(container))
    commits = _commits(container)
    results = asyncio.run(_all(_offload(container), calls))
    assert isinstance(results[2], RuntimeError)
    assert len(commits) == 5, "the group was rolled back; each placement committed alone"
    assert sum(isinstance(r, PlaceOrderResult) for r in results) == 5
    stock = container.product_queries().stock("MUG-1")
    assert (stock.on_hand, stock.reserved) == (1000, 5), "the spoiler's write was undone"


def test_a_group_reads_each_row_once_and_sends_each_table_in_a_few_statements(
    container: Container,
) -> None:
    """The members' writes wait in the group's stage (adapters/sql/group_stage.py):
    one read of the product and stock per group, one stock UPDATE, and each table's
    rows as multi-row INSERTs, instead of about eight statements per placement."""
    with container.database().read() as conn:
        before = conn.execute(text("SELECT version FROM stock WHERE sku = 'MUG-1'")).scalar_one()
    statements = _statements(container)
    calls = [_place(container, "MUG-1", 1, key=f"key-{n}") for n in range(30)]
    results = asyncio.run(_all(_offload(container), calls))
    assert all(isinstance(r, PlaceOrderResult) for r in results), results
    sent = [s.split()[0].upper() for s in statements]
    assert sent.count("SELECT") <= 2 + 30  # product and stock once; each key looked up
    reads = [s.split("FROM", 1)[1].split()[0] for s in statements if s.startswith("SELECT")]
    assert reads.count("products") == 1 and reads.count("stock") == 1
    assert sent.count("UPDATE") == 1  # the stock row, once for all 30 reservations
    # orders, lines, reservations, idempotency keys, outbox: 30 = 16 + 8 + 4 + 2 rows each
    assert sent.count("INSERT") == 5 * 4
    stock = container.product_queries().stock("MUG-1")
    assert (stock.on_hand, stock.reserved) == (1000, 30)
    with container.database().read() as conn:
        versions = conn.execute(text("SELECT version FROM stock WHERE sku = 'MUG-1'"))
        assert versions.scalar() == before + 30, "each reservation moved the version on"
        count = conn.execute(text("SELECT count(*) FROM idempotency_keys")).scalar()
        assert count == 30


class StagedThenFailing:
    """Reserves stock and stages its writes, then fails before its commit."""

    def __init__(self, container: Container) -> None:
        self._container = container

    def __call__(self) -> None:
        with self._container.uow_factory()() as uow:
            item = uow.stock.get_many(["MUG-1"])["MUG-1"]
            uow.reservations.add(item.reserve("order-that-never-was", 500))
            uow.stock.save(item)
            raise RuntimeError("failed before commit")


def test_a_member_failing_before_its_commit_leaves_nothing_and_the_group_commits(
    container: Container,
) -> None:
    calls: list[Any] = [_place(container, "MUG-1", 1) for _ in range(5)]
    calls.insert(2, StagedThenFailing(container))
    commits = _commits(container)
    results = asyncio.run(_all(_offload(container), calls))
    assert isinstance(results[2], RuntimeError)
    assert sum(isinstance(r, PlaceOrderResult) for r in results) == 5
    assert len(commits) == 1, "nothing of the failed member was sent: the group stood"
    stock = container.product_queries().stock("MUG-1")
    assert (stock.on_hand, stock.reserved) == (1000, 5)


def test_a_member_sees_what_earlier_members_of_its_group_staged(container: Container) -> None:
    """A read outside the stage's own (an order, its reservations) sends the staged
    writes first, so it finds an order an earlier member placed in the same group."""
    placed: list[PlaceOrderResult] = []

    def place() -> PlaceOrderResult:
        result = container.place_order()(PlaceOrderCommand("cust-1", [RequestedLine("MUG-1", 2)]))
        placed.append(result)
        return result

    def look() -> tuple[Any, Any]:
        with container.uow_factory()() as uow:
            order_id = placed[0].order.id
            return uow.orders.get(order_id), uow.reservations.of_order(order_id)

    commits = _commits(container)
    results = asyncio.run(_all(_offload(container), [place, look, _place(container, "MUG-1", 1)]))
    assert len(commits) == 1 and len(placed) == 1, "all three ran in one group"
    order, reservations = results[1]
    assert order is not None and order.id == placed[0].order.id
    assert {sku: r.quantity for sku, r in reservations.items()} == {"MUG-1": 2}
    assert container.product_queries().stock("MUG-1").reserved == 3
