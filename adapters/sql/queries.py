"""The read side: view rows straight from the tables, in a constant number of queries.

A list of orders is two queries whatever its length (the orders, then all their
lines at once), never one per order. Pagination is keyset: `(created_at, id)`
strictly before the cursor, newest first, served by an index, and stable while
rows are inserted.

No query here needs a snapshot (`read(snapshot=False)`): each is one statement,
except an order with its lines, and lines are written in the order's own
transaction and never change, so any order a query sees has all its lines.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, tuple_

from adapters.sql import mapping
from adapters.sql.database import SqlDatabase
from adapters.sql.prepared import Prepared
from adapters.sql.tables import order_lines, orders, outbox, principals, products, stock
from core.domain.events import EventEnvelope
from core.ports.queries import (
    OrderKey,
    OrderView,
    OutboxStatus,
    PrincipalView,
    ProductView,
    StockView,
)
from core.ports.system import Clock

_PRODUCT_VIEW = select(products, stock.c.on_hand, stock.c.reserved).select_from(
    products.outerjoin(stock, stock.c.sku == products.c.sku)
)
_PRODUCT_ONE = _PRODUCT_VIEW.where(products.c.sku == bindparam("sku"))
_STOCK_ONE = select(stock.c.sku, stock.c.on_hand, stock.c.reserved).where(
    stock.c.sku == bindparam("sku")
)
# One round trip for an order and its lines (an order always has at least one).
_ORDER_WITH_LINES = (
    select(
        orders,
        order_lines.c.sku.label("line_sku"),
        order_lines.c.quantity.label("line_quantity"),
        order_lines.c.unit_price.label("line_unit_price"),
    )
    .select_from(orders.outerjoin(order_lines, order_lines.c.order_id == orders.c.id))
    .where(orders.c.id == bindparam("id"))
    .order_by(order_lines.c.position)
)
_LINES_OF = (
    select(
        order_lines.c.order_id,
        order_lines.c.sku,
        order_lines.c.quantity,
        order_lines.c.unit_price,
    )
    .where(order_lines.c.order_id.in_(bindparam("ids", expanding=True)))
    .order_by(order_lines.c.order_id, order_lines.c.position)
)
_EVENTS_OF = (
    select(outbox).where(outbox.c.subject == bindparam("subject")).order_by(outbox.c.position)
)
_PRINCIPALS = select(principals).order_by(principals.c.name)
_PRINCIPAL_BY_NAME = select(principals).where(principals.c.name == bindparam("value"))
_PRINCIPAL_BY_KEY = select(principals).where(principals.c.key_hash == bindparam("value"))
_OUTBOX_BACKLOG = select(func.count(), func.min(outbox.c.created_at)).where(
    outbox.c.sent_at.is_(None)
)


class SqlReadQueries:
    def __init__(self, database: SqlDatabase, clock: Clock) -> None:
        self._db = database
        self._clock = clock
        # The lookups every request makes, run without SQLAlchemy's per-statement cost.
        dialect = database.engine.dialect
        self._principal_by_key = Prepared(_PRINCIPAL_BY_KEY, dialect)
        self._order_with_lines = Prepared(_ORDER_WITH_LINES, dialect)

    def get_product(self, sku: str) -> ProductView | None:
        with self._db.read(snapshot=False) as conn:
            row = conn.execute(_PRODUCT_ONE, {"sku": sku}).mappings().first()
        return None if row is None else mapping.product_view_from_row(row)

    def list_products(
        self, active: bool | None, after_sku: str | None, limit: int
    ) -> list[ProductView]:
        query = _PRODUCT_VIEW
        if active is not None:
            query = query.where(products.c.active == active)
        if after_sku is not None:
            query = query.where(products.c.sku > after_sku)
        query = query.order_by(products.c.sku).limit(limit)
        with self._db.read(snapshot=False) as conn:
            rows = conn.execute(query).mappings().all()
        return [mapping.product_view_from_row(row) for row in rows]

    def get_stock(self, sku: str) -> StockView | None:
        with self._db.read(snapshot=False) as conn:
            row = conn.execute(_STOCK_ONE, {"sku": sku}).first()
        if row is None:
            return None
        return StockView(row.sku, row.on_hand, row.reserved, row.on_hand - row.reserved)

    def get_order(self, order_id: str) -> OrderView | None:
        rows = self._order_with_lines.rows(self._db.readers, {"id": order_id})
        if not rows:
            return None
        lines = [
            {
                "sku": r["line_sku"],
                "quantity": r["line_quantity"],
                "unit_price": r["line_unit_price"],
            }
            for r in rows
            if r["line_sku"] is not None
        ]
        return mapping.order_view_from_rows(rows[0], lines)

    def list_orders(
        self,
        customer_id: str | None,
        status: str | None,
        before: OrderKey | None,
        limit: int,
    ) -> list[OrderView]:
        query = select(orders)
        if customer_id is not None:
            query = query.where(orders.c.customer_id == customer_id)
        if status is not None:
            query = query.where(orders.c.status == status)
        if before is not None:
            position = tuple_(
                bindparam("before_created_at", before.created_at, type_=orders.c.created_at.type),
                bindparam("before_id", before.id, type_=orders.c.id.type),
            )
            query = query.where(tuple_(orders.c.created_at, orders.c.id) < position)
        query = query.order_by(orders.c.created_at.desc(), orders.c.id.desc()).limit(limit)
        with self._db.read(snapshot=False) as conn:
            rows = conn.execute(query).mappings().all()
            return self._with_lines(conn, rows)

    @staticmethod
    def _with_lines(conn: Connection, rows: Any) -> list[OrderView]:
        """Attach the lines of all `rows` with one query."""
        if not rows:
            return []
        lines: dict[str, list[Any]] = defaultdict(list)
        for line in conn.execute(_LINES_OF, {"ids": [row["id"] for row in rows]}).mappings():
            lines[line["order_id"]].append(line)
        return [mapping.order_view_from_rows(row, lines[row["id"]]) for row in rows]

    def order_events(self, order_id: str) -> list[EventEnvelope]:
        with self._db.read(snapshot=False) as conn:
            rows = conn.execute(_EVENTS_OF, {"subject": order_id}).mappings().all()
        return [mapping.envelope_from_row(row) for row in rows]

    def list_principals(self) -> list[PrincipalView]:
        with self._db.read(snapshot=False) as conn:
            rows = conn.execute(_PRINCIPALS).mappings().all()
        return [mapping.principal_view_from_row(row) for row in rows]

    def principal_by_key_hash(self, key_hash: str) -> PrincipalView | None:
        rows = self._principal_by_key.rows(self._db.readers, {"value": key_hash})
        return mapping.principal_view_from_row(rows[0]) if rows else None

    def principal_by_name(self, name: str) -> PrincipalView | None:
        with self._db.read(snapshot=False) as conn:
            row = conn.execute(_PRINCIPAL_BY_NAME, {"value": name}).mappings().first()
        return None if row is None else mapping.principal_view_from_row(row)

    def outbox_status(self) -> OutboxStatus:
        with self._db.read(snapshot=False) as conn:
            backlog, oldest = conn.execute(_OUTBOX_BACKLOG).one()
        if not backlog:
            return OutboxStatus(0, None)
        age = (self._clock.now() - oldest).total_seconds()
        return OutboxStatus(int(backlog), max(age, 0.0))

    def ping(self) -> None:
        self._db.ping()
