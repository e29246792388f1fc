"""A use case that fails mid-way leaves nothing behind: no order, reservation or outbox row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dependency_injector import providers
from sqlalchemy import func, select

from adapters.sql.tables import idempotency_keys, order_lines, orders, outbox, stock_reservations
from adapters.sql.unit_of_work import SqlUnitOfWork
from adapters.system import FixedClock, UuidGenerator
from core.domain.events import EventEnvelope
from core.domain.orders import RequestedLine
from core.ports.unit_of_work import UnitOfWork
from core.use_cases.ordering import PlaceOrderCommand
from entrypoints.container import Container
from tests.integration.sql_shop import (
    HOT,
    PLENTY,
    SQL_BACKENDS,
    database_url_for,
    sql_container,
    stock_shop,
)


class Crash(Exception):
    """The process dies (or a bug raises) at some point of the transaction."""


class CrashingUnitOfWork(SqlUnitOfWork):
    def __init__(self, *args: object, point: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._point = point

    def _write_outbox(self, envelopes: list[EventEnvelope]) -> None:
        if self._point == "before_outbox":  # stock, order and lines are written
            raise Crash(self._point)
        super()._write_outbox(envelopes)

    def _commit(self) -> None:
        if self._point == "before_commit":  # ... and the outbox rows too
            raise Crash(self._point)
        super()._commit()


@pytest.fixture(params=SQL_BACKENDS)
def container(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock
) -> Iterator[Container]:
    with sql_container(database_url_for(request, tmp_path), clock) as c:
        stock_shop(c, 20)
        yield c


def _count(container: Container, statement: object) -> int:
    with container.database().read() as conn:
        return int(conn.execute(statement).scalar_one())  # type: ignore[call-overload]


@pytest.mark.parametrize("point", ["before_outbox", "before_commit"])
def test_a_crash_while_placing_an_order_leaves_nothing(container: Container, point: str) -> None:
    database, clock = container.database(), container.clock()

    def crashing() -> UnitOfWork:
        return CrashingUnitOfWork(database, UuidGenerator(), clock, point=point)

    outbox_before = _count(container, select(func.count()).select_from(outbox))
    container.uow_factory.override(providers.Object(crashing))
    command = PlaceOrderCommand(
        "customer-1", [RequestedLine(HOT, 3), RequestedLine(PLENTY, 2)], idempotency_key="k-1"
    )
    with pytest.raises(Crash):
        container.place_order()(command)
    container.uow_factory.reset_override()

    assert _count(container, select(func.count()).select_from(orders)) == 0
    assert _count(container, select(func.count()).select_from(order_lines)) == 0
    assert _count(container, select(func.count()).select_from(stock_reservations)) == 0
    assert _count(container, select(func.count()).select_from(idempotency_keys)) == 0
    assert _count(container, select(func.count()).select_from(outbox)) == outbox_before
    for sku in (HOT, PLENTY):
        view = container.queries().get_stock(sku)
        assert view is not None and view.reserved == 0
    # Nothing was left locked either: the same order goes through now.
    container.place_order.reset()  # it was built on the crashing factory
    placed = container.place_order()(command)
    assert placed.order.total == 3 * 500 + 2 * 100
    assert _count(container, select(func.count()).select_from(stock_reservations)) == 2
