"""A SQLite write group's staged writes, and the rows its members share.

Placements in a write group (database.py, `SqlDatabase.group`) run one after the
other in one transaction that holds SQLite's only write lock. Sent one by one,
each placement read its products and stock and wrote about a dozen statements;
every statement releases the GIL in the sqlite3 module and then waits to get it
back from the event loop thread, and that wait was the largest share of the
writer's time under load (docs/performance.md). Here:

- a member's writes are handed over at its commit (WriteQueue.hand_over) and the
  whole group's are sent when the group commits: one versioned UPDATE per stock
  row however many members reserved from it, and each table's INSERTs as a few
  multi-row statements (adapters/sql/bulk.py);
- products and stock rows are read from the database once per group and then
  served from here, as the transaction would return them: stock as the
  committed members left it (a member that fails leaves nothing here);
- idempotency records of committed members are found here, so a concurrent
  retry in the same group replays the first answer, as it would after a commit.

No other writer can change a row between a member's read and the group's
commit: the group holds the database's write lock throughout. Any statement
sent on the group's thread outside these paths first sends what is staged
(staged.py), so it sees every earlier member's writes. If sending fails, the
group rolls back and its callers run alone (entrypoints/http/offload.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from adapters.sql import staged
from adapters.sql.repositories.statements import IDEMPOTENCY_INSERT, STOCK_UPDATE
from adapters.sql.repositories.write_queue import WriteQueue, send_steps
from adapters.sql.staged import Step

# sku -> (on_hand, reserved, version)
StockRow = tuple[int, int, int]


class GroupStage:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.pending = False
        # Rows changed by sending staged writes: they are no member's own changes.
        self.sent_changes = 0
        self._steps: list[Step] = [[] for _ in range(WriteQueue.STEPS)]
        # One UPDATE per stock row: the last values, the version the row had when read.
        self._stock_updates: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}  # rows as read
        self.stock: dict[str, StockRow] = {}  # rows as the committed members left them
        # Idempotency rows of committed members, by (principal_id, key), until sent.
        self.idempotency: dict[tuple[str, str], dict[str, Any]] = {}

    def take(self, steps: list[Step]) -> None:
        """A member's writes, at its commit."""
        rows_changed = False  # products or stock written other than by a placement
        for index, queued in enumerate(steps):
            for statement, params in queued:
                if statement is STOCK_UPDATE:
                    self._stage_stock(params)
                    continue
                if statement is IDEMPOTENCY_INSERT:
                    self.idempotency[(params["principal_id"], params["key"])] = params
                elif index < WriteQueue.ORDERS:
                    rows_changed = True
                self._steps[index].append((statement, params))
        self.pending = True
        if rows_changed:
            # Rare in a group (placements write none): sent now, and read again after.
            self.send()
            self.forget_rows()

    def _stage_stock(self, params: dict[str, Any]) -> None:
        sku = str(params["k_sku"])
        earlier = self._stock_updates.get(sku)
        if earlier is not None:
            params = {**params, "k_version": earlier["k_version"]}
        self._stock_updates[sku] = params
        self.stock[sku] = (params["on_hand"], params["reserved"], params["version"])

    def send(self) -> None:
        """Send every staged write, in the WriteQueue's step order."""
        if not self.pending:
            return
        self.pending = False  # (statements sent from here must not send again)
        steps, self._steps = self._steps, [[] for _ in range(WriteQueue.STEPS)]
        updates, self._stock_updates = self._stock_updates, {}
        self.idempotency.clear()
        steps[WriteQueue.STOCK_UPDATES] = [
            (STOCK_UPDATE, updates[sku]) for sku in sorted(updates)
        ] + steps[WriteQueue.STOCK_UPDATES]
        before = total_changes(self._conn)
        send_steps(self._conn, steps)  # (if it fails, the changes count as the caller's)
        self.sent_changes += total_changes(self._conn) - before

    def forget_rows(self) -> None:
        """Rows were written without passing through here: read them again."""
        self.products.clear()
        self.stock.clear()

    def __enter__(self) -> GroupStage:
        staged.set_stage(self)
        return self

    def __exit__(self, *exc: object) -> None:
        staged.set_stage(None)


def total_changes(conn: Connection) -> int:
    """Rows SQLite has changed on this connection so far."""
    return int(conn.connection.dbapi_connection.total_changes)  # type: ignore[union-attr]
