"""No N+1: listing orders with their lines costs the same number of queries for 1 or 100."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from adapters.sql.database import SqlDatabase
from adapters.sql.prepared import Prepared
from adapters.system import FixedClock
from core.domain.orders import RequestedLine
from core.domain.principals import Role
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.ordering import PlaceOrderCommand
from core.use_cases.support import Actor
from entrypoints.container import Container
from tests.integration.sql_shop import SQL_BACKENDS, database_url_for, sql_container

SKUS = ["LINE-A", "LINE-B", "LINE-C"]


@pytest.fixture(params=SQL_BACKENDS)
def shop(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Container]:
    with sql_container(database_url_for(request, tmp_path), clock) as container:
        for sku in SKUS:
            container.create_product()(CreateProductCommand(sku, sku, 100, on_hand=10_000))
        place = container.place_order()
        for n in range(100):
            place(PlaceOrderCommand(f"customer-{n % 3}", [RequestedLine(s, 1) for s in SKUS]))
        yield container


@contextmanager
def counted(database: SqlDatabase) -> Iterator[list[str]]:
    """The SQL statements (not BEGIN/COMMIT) the engine sends while the block runs."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            statements.append(statement)

    # The hot lookups bypass Connection.execute (adapters/sql/prepared.py): count them too.
    run_prepared = Prepared.rows

    def rows(self: Prepared, readers: Any, params: Any) -> list[dict[str, Any]]:
        statements.append(self.sql)
        return run_prepared(self, readers, params)

    event.listen(database.engine, "before_cursor_execute", record)
    Prepared.rows = rows  # type: ignore[method-assign]
    try:
        yield statements
    finally:
        Prepared.rows = run_prepared  # type: ignore[method-assign]
        event.remove(database.engine, "before_cursor_execute", record)


def test_read_queries_do_not_grow_with_the_rows_they_return(shop: Container) -> None:
    queries, database = shop.queries(), shop.database()
    with counted(database) as one:
        single = queries.list_orders(None, None, None, 1)
    with counted(database) as hundred:
        listed = queries.list_orders(None, None, None, 100)
    assert len(single) == 1 and len(listed) == 100
    assert all(len(order.lines) == 3 for order in listed)
    assert len(hundred) == len(one) == 2, hundred  # the orders, then all their lines

    # The same through the use case, with the page cursor logic on top.
    with counted(database) as statements:
        page = shop.order_queries().page(Actor("admin", Role.ADMIN), limit=100)
    assert len(page.items) == 100 and page.next_cursor is None
    assert len(statements) == 2

    with counted(database) as statements:
        assert queries.get_order(listed[0].id) == listed[0]
    assert len(statements) == 1, "an order joined with its lines"
    with counted(database) as statements:
        assert len(queries.list_products(None, None, 100)) == 3  # with available stock
    assert len(statements) == 1
