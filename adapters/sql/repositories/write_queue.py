"""Product, stock and reservation writes of one unit of work, sent in batches at commit."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, ClassVar

from sqlalchemy import Connection, Executable

from adapters.sql.bulk import execute_many
from adapters.sql.repositories.base import Track, VersionedRepository, on_duplicate
from adapters.sql.repositories.statements import ONE_ROW_EACH, STOCK_RESERVE
from core.ports.errors import ConcurrencyConflict


def _added_concurrently() -> Exception:
    return ConcurrencyConflict("a row was added concurrently")


class WriteQueue:
    """Repositories queue their INSERTs, versioned UPDATEs and reservation removals
    here (statements.ONE_ROW_EACH must each match one row); `flush` sends them
    as one executemany per statement, in foreign-key order (products, stock, then
    reservations; each table's writes in the order they were made). The unit of
    work flushes before commit, and a repository before it reads a row that has
    queued writes, so reads always see this unit of work's own writes. Placing a
    3-line order sends 2 stock statements instead of 6; importing 1,000 new
    products sends 2 INSERTs instead of 2,000. The rows were locked when loaded,
    so a version check made at flush time loses nothing.
    """

    # Steps, in the order they are flushed.
    PRODUCT_INSERTS, PRODUCT_UPDATES, STOCK_INSERTS, STOCK_UPDATES, RESERVATIONS = range(5)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._steps: list[list[tuple[Executable, dict[str, Any]]]] = [[] for _ in range(5)]
        # (table, key) with queued writes: stock by SKU, reservations by order id.
        self._dirty: set[tuple[str, str]] = set()

    def put(
        self, step: int, table: str, key: str, statement: Executable, params: dict[str, Any]
    ) -> None:
        self._steps[step].append((statement, params))
        self._dirty.add((table, key))

    def flush_for(self, table: str, keys: Iterable[str]) -> None:
        """Flush if any of these keys has queued writes (a read is about to see them)."""
        if self._dirty and any((table, key) in self._dirty for key in keys):
            self.flush()

    def flush(self) -> None:
        self._dirty.clear()
        for step in self._steps:
            queued = step[:]
            step.clear()
            start = 0
            while start < len(queued):  # one executemany per run of the same statement
                statement, end = queued[start][0], start
                while end < len(queued) and queued[end][0] is statement:
                    end += 1
                batch = [params for _, params in queued[start:end]]
                if statement is STOCK_RESERVE:  # rows locked in SKU order: no deadlock
                    batch.sort(key=lambda params: str(params["k_sku"]))
                rowcount = on_duplicate(
                    _added_concurrently, execute_many, self._conn, statement, batch
                )
                if statement in ONE_ROW_EACH and rowcount != len(batch):
                    raise ConcurrencyConflict("a row was changed by another transaction")
                start = end


class QueuedRepository(VersionedRepository):
    """A versioned repository whose writes wait in the unit of work's WriteQueue
    (`_table` names its rows there)."""

    _table: ClassVar[str]

    def __init__(self, conn: Connection, queue: WriteQueue, track: Track) -> None:
        super().__init__(conn)
        self._queue = queue
        self._track = track

    def _current_version(self, key: Hashable) -> int | None:
        self._queue.flush_for(self._table, (str(key),))  # the read must see queued writes
        return super()._current_version(key)

    def _queue_update(
        self, step: int, statement: Executable, key: str, version: int, params: dict[str, Any]
    ) -> None:
        """A versioned UPDATE sent at flush, where its row count is checked."""
        params["k_version"] = self._expected(key)
        self._queue.put(step, self._table, key, statement, params)
        self._loaded[key] = version
