"""Stock: rows carry the `reserved` total; reservations live in their own table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Executable

from adapters.sql.prepared import select_rows
from adapters.sql.repositories.base import Track
from adapters.sql.repositories.statements import (
    RESERVATION_DELETE,
    RESERVATION_INSERT,
    RESERVATION_UPDATE,
    STOCK_FOR_ORDER,
    STOCK_FOR_ORDER_UNLOCKED,
    STOCK_GET,
    STOCK_INSERT,
    STOCK_RESERVE,
    STOCK_UPDATE,
)
from adapters.sql.repositories.write_queue import QueuedRepository, WriteQueue
from core.domain.stock import StockItem


class SqlStockRepository(QueuedRepository):
    """A stock item is handed out with no reservations (`get`) or with one order's
    (`get_for_order`); `save` writes the counters and syncs that one reservation.
    """

    _by_key = STOCK_GET
    _key_param = "sku"
    _table = "stock"

    def __init__(self, conn: Connection, queue: WriteQueue, track: Track) -> None:
        super().__init__(conn, queue, track)
        # sku -> (order whose reservation was loaded, its quantity then), or None.
        self._scope: dict[str, tuple[str, int | None] | None] = {}
        # sku -> (on_hand, reserved) as read without a lock (get_for_order(lock=False)).
        self._unlocked: dict[str, tuple[int, int]] = {}

    def get(self, sku: str) -> StockItem | None:
        self._queue.flush_for("stock", (sku,))
        rows = select_rows(self._conn, STOCK_GET, {"sku": sku})
        if not rows:
            return None
        row = rows[0]
        self._loaded[sku] = row["version"]
        self._scope[sku] = None
        return StockItem(sku, row["on_hand"], row["reserved"], None, row["version"])

    def get_for_order(
        self, skus: Sequence[str], order_id: str, lock: bool = True
    ) -> dict[str, StockItem]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        self._queue.flush_for("stock", wanted)
        found = {}
        # SQLite has no row locks (the unit of work holds the only write lock): only
        # PostgreSQL takes the late path.
        late = not lock and self._conn.dialect.name == "postgresql"
        statement = STOCK_FOR_ORDER_UNLOCKED if late else STOCK_FOR_ORDER
        for row in select_rows(self._conn, statement, {"skus": wanted, "order_id": order_id}):
            sku, held = row["sku"], row["quantity"]
            reservations = {order_id: held} if held is not None else None
            found[sku] = StockItem(
                sku, row["on_hand"], row["reserved"], reservations, row["version"]
            )
            self._loaded[sku] = row["version"]
            self._scope[sku] = (order_id, held)
            if late:
                self._unlocked[sku] = (row["on_hand"], row["reserved"])
        return found

    def add(self, item: StockItem) -> None:
        values = {
            "sku": item.sku,
            "on_hand": item.on_hand,
            "reserved": item.reserved,
            "version": item.version,
        }
        self._queue.put(WriteQueue.STOCK_INSERTS, "stock", item.sku, STOCK_INSERT, values)
        for order_id, quantity in item.reservations.items():
            self._reservation(
                RESERVATION_INSERT, item.sku, {"order_id": order_id, "quantity": quantity}
            )
        self._loaded[item.sku] = item.version
        self._scope[item.sku] = None
        self._track(item)

    def save(self, item: StockItem) -> None:
        unlocked = self._unlocked.pop(item.sku, None)
        if unlocked is not None and unlocked[0] == item.on_hand:
            # Read without a lock: apply the change to `reserved` as a delta, conditional
            # on what is there at that moment (no row: ConcurrencyConflict, and the use
            # case reads again and sees the shortage).
            values = {"k_sku": item.sku, "delta": item.reserved - unlocked[1]}
            self._queue.put(WriteQueue.STOCK_UPDATES, "stock", item.sku, STOCK_RESERVE, values)
            self._loaded.pop(item.sku, None)  # its version moves on without us
        else:
            values = {
                "k_sku": item.sku,
                "on_hand": item.on_hand,
                "reserved": item.reserved,
                "version": item.version,
            }
            self._queue_update(
                WriteQueue.STOCK_UPDATES, STOCK_UPDATE, item.sku, item.version, values
            )
        self._sync_scope(item)
        self._track(item)

    def _sync_scope(self, item: StockItem) -> None:
        scope = self._scope.get(item.sku)
        if scope is not None:
            order_id, held = scope
            now = item.reservations.get(order_id)
            if now != held:
                self._sync_reservation(item.sku, order_id, held, now)

    def _sync_reservation(self, sku: str, order_id: str, held: int | None, now: int | None) -> None:
        if held is None:
            self._reservation(RESERVATION_INSERT, sku, {"order_id": order_id, "quantity": now})
        elif now is None:
            self._reservation(RESERVATION_DELETE, sku, {"order_id": order_id})
        else:
            self._reservation(
                RESERVATION_UPDATE, sku, {"k_sku": sku, "k_order_id": order_id, "quantity": now}
            )
        self._scope[sku] = (order_id, now)

    def _reservation(self, statement: Executable, sku: str, params: dict[str, Any]) -> None:
        if statement is not RESERVATION_UPDATE:
            params["sku"] = sku
        self._queue.put(WriteQueue.RESERVATIONS, "stock", sku, statement, params)
