"""Stock: rows carry the counters, `reserved` the total over the SKU's reservations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from adapters.sql.prepared import select_rows
from adapters.sql.repositories.base import Track
from adapters.sql.repositories.statements import (
    STOCK_GET,
    STOCK_INSERT,
    STOCK_MANY,
    STOCK_MANY_UNLOCKED,
    STOCK_RESERVE,
    STOCK_UPDATE,
)
from adapters.sql.repositories.write_queue import QueuedRepository, WriteQueue
from core.domain.stock import StockItem


class SqlStockRepository(QueuedRepository):
    """Stock items by SKU; `save` writes the counters (reservations are stored by
    SqlReservationRepository)."""

    _by_key = STOCK_GET
    _key_param = "sku"
    _table = "stock"

    def __init__(self, conn: Connection, queue: WriteQueue, track: Track) -> None:
        super().__init__(conn, queue, track)
        # sku -> (on_hand, reserved) as read without a lock (get_many(lock=False)).
        self._unlocked: dict[str, tuple[int, int]] = {}

    def _item(self, row: Mapping[str, Any]) -> StockItem:
        self._loaded[row["sku"]] = row["version"]
        return StockItem(row["sku"], row["on_hand"], row["reserved"], row["version"])

    def get(self, sku: str) -> StockItem | None:
        self._queue.flush_for("stock", (sku,))
        rows = select_rows(self._conn, STOCK_GET, {"sku": sku})
        return self._item(rows[0]) if rows else None

    def get_many(self, skus: Sequence[str], lock: bool = True) -> dict[str, StockItem]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        # SQLite has no row locks (the unit of work holds the only write lock): only
        # PostgreSQL takes the late path.
        late = not lock and self._conn.dialect.name == "postgresql"
        kept = self._queue.unlocked_stock
        if late and kept and all(sku in kept for sku in wanted):
            return self._read_with_products(wanted)
        self._queue.flush_for("stock", wanted)
        if self._queue.stage is not None:
            return self._staged_many(wanted)
        found = {}
        for row in select_rows(
            self._conn, STOCK_MANY_UNLOCKED if late else STOCK_MANY, {"skus": wanted}
        ):
            found[row["sku"]] = self._item(row)
            if late:
                self._unlocked[row["sku"]] = (row["on_hand"], row["reserved"])
        return found

    def _read_with_products(self, wanted: list[str]) -> dict[str, StockItem]:
        """The rows SqlProductRepository read along with their products (no queued write
        has touched them since: `WriteQueue.put` drops a row it changes)."""
        kept = self._queue.unlocked_stock
        found = {}
        for sku in wanted:
            on_hand, reserved, version = kept.pop(sku)
            found[sku] = self._item(
                {"sku": sku, "on_hand": on_hand, "reserved": reserved, "version": version}
            )
            self._unlocked[sku] = (on_hand, reserved)
        return found

    def _staged_many(self, wanted: list[str]) -> dict[str, StockItem]:
        """In a write group: rows as the group's committed members left them, each read
        from the database once per group (group_stage.py)."""
        assert self._queue.stage is not None
        cached = self._queue.stage.stock
        missing = [sku for sku in wanted if sku not in cached]
        if missing:
            # A stock row with staged writes is always cached: none of these has any.
            for row in select_rows(self._conn, STOCK_MANY, {"skus": missing}, send_staged=False):
                cached[row["sku"]] = (row["on_hand"], row["reserved"], row["version"])
        found = {}
        for sku in wanted:
            state = cached.get(sku)
            if state is not None:
                self._loaded[sku] = state[2]
                found[sku] = StockItem(sku, *state)
        return found

    def add(self, item: StockItem) -> None:
        values = {
            "sku": item.sku,
            "on_hand": item.on_hand,
            "reserved": item.reserved,
            "version": item.version,
        }
        self._queue.put(WriteQueue.STOCK_INSERTS, "stock", item.sku, STOCK_INSERT, values)
        self._loaded[item.sku] = item.version
        self._track(item)

    def save(self, item: StockItem) -> None:
        unlocked = self._unlocked.pop(item.sku, None)
        if unlocked is not None and unlocked[0] == item.on_hand:
            # Read without a lock: apply the change to `reserved` as a delta, conditional
            # on what is there at that moment (no row: ConcurrencyConflict, and the use
            # case reads again and sees the shortage).
            values = {"k_sku": item.sku, "delta": item.reserved - unlocked[1]}
            self._queue.put(WriteQueue.STOCK_RESERVES, "stock", item.sku, STOCK_RESERVE, values)
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
        self._track(item)
