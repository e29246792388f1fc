"""Orders with their lines: one round trip to load, lines written once at insert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from adapters.sql import mapping, staged
from adapters.sql.bulk import execute_many
from adapters.sql.prepared import select_rows
from adapters.sql.repositories.base import Track, Versioned, VersionedRepository, on_duplicate
from adapters.sql.repositories.statements import (
    ORDER_GET,
    ORDER_INSERT,
    ORDER_LINES_INSERT,
    ORDER_UPDATE,
    ORDERS_GET_MANY,
    ORDERS_PENDING,
)
from adapters.sql.repositories.write_queue import WriteQueue
from core.domain.orders import Order
from core.ports.errors import ConcurrencyConflict

_TABLE = "orders"  # its rows' name in the unit of work's WriteQueue
# Set at insert and never changed: left out of the UPDATE.
_FIXED = ("customer_id", "currency", "total", "created_at")


class SqlOrderRepository(VersionedRepository):
    _by_key = ORDER_GET
    _key_param = "id"

    def __init__(self, conn: Connection, track: Track, queue: WriteQueue | None = None) -> None:
        super().__init__(conn)
        self._track = track
        self._queue = queue

    def _loaded_order(self, rows: Sequence[Any]) -> Order:
        order = mapping.order_from_rows(rows[0], rows if rows[0]["sku"] is not None else [])
        self._loaded[order.id] = order.version
        return order

    def _see_queued(self, order_ids: Sequence[str]) -> None:
        if self._queue is not None:
            self._queue.flush_for(_TABLE, order_ids)  # a read must see orders added here

    def get(self, order_id: str) -> Order | None:
        self._see_queued((order_id,))
        rows = select_rows(self._conn, ORDER_GET, {"id": order_id})
        return self._loaded_order(rows) if rows else None

    def get_many(self, order_ids: Sequence[str]) -> dict[str, Order]:
        if not order_ids:
            return {}
        self._see_queued(order_ids)
        grouped: dict[str, list[Any]] = {}
        for row in select_rows(self._conn, ORDERS_GET_MANY, {"ids": list(order_ids)}):
            grouped.setdefault(row["id"], []).append(row)
        return {order_id: self._loaded_order(rows) for order_id, rows in grouped.items()}

    def add(self, order: Order) -> None:
        queue = self._queue
        if queue is not None and queue.stage is not None:
            # In a write group: sent with the group's other orders (an id is never reused).
            queue.put_rows(WriteQueue.ORDERS, ORDER_INSERT, [mapping.order_values(order)])
            queue.put_rows(
                WriteQueue.ORDER_LINES, ORDER_LINES_INSERT, mapping.order_line_values(order)
            )
            self._loaded[order.id] = order.version
            self._track(order)
            return
        if queue is not None and queue.defer_inserts:
            # Sent at commit, with the placement's other writes (an existing id is a
            # ConcurrencyConflict then, as here).
            queue.put(
                WriteQueue.ORDERS, _TABLE, order.id, ORDER_INSERT, mapping.order_values(order)
            )
            queue.put_rows(
                WriteQueue.ORDER_LINES, ORDER_LINES_INSERT, mapping.order_line_values(order)
            )
            self._loaded[order.id] = order.version
            self._track(order)
            return
        on_duplicate(
            lambda: ConcurrencyConflict(f"order {order.id} exists"),
            execute_many,
            self._conn,
            ORDER_INSERT,
            [mapping.order_values(order)],
        )
        execute_many(self._conn, ORDER_LINES_INSERT, mapping.order_line_values(order))
        self._loaded[order.id] = order.version
        self._track(order)

    def save(self, order: Order) -> None:
        self.save_many([order])

    def save_many(self, orders: Sequence[Order]) -> None:
        self._see_queued([order.id for order in orders])
        items: list[Versioned] = []
        for order in orders:
            values = mapping.order_values(order)
            values["k_id"] = values.pop("id")
            for fixed in _FIXED:
                del values[fixed]
            items.append((order.id, order.version, values))
        if items:
            self._update(ORDER_UPDATE, items)
        for order in orders:
            self._track(order)

    def pending_before(self, cutoff: datetime, limit: int) -> list[str]:
        staged.send_staged()
        rows = self._conn.execute(ORDERS_PENDING, {"cutoff": cutoff, "limit": limit})
        return [row.id for row in rows]
