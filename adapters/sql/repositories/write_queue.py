"""A unit of work's product, stock and reservation writes (and, in a write group, all
of a placement's writes), sent in batches at commit."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any, ClassVar

from sqlalchemy import Connection, Executable

from adapters.sql.bulk import Columns, execute_many, insert_together
from adapters.sql.repositories.base import Track, VersionedRepository, on_duplicate
from adapters.sql.repositories.statements import (
    ONE_ROW_EACH,
    RESERVATION_INSERT,
    STOCK_RESERVE,
    STOCK_RESERVE_OR_FAIL,
)
from adapters.sql.staged import Stage, Step
from core.ports.errors import ConcurrencyConflict


def _added_concurrently() -> Exception:
    return ConcurrencyConflict("a row was added concurrently")


def send_steps(conn: Connection, steps: Iterable[Step], *, one_trip: bool = False) -> None:
    """Each step's writes in order, one executemany per run of the same statement.

    With `one_trip` (inside the pipeline of pipelined_commit.py, COMMIT to follow), no
    row count is known before COMMIT: the stock reservations go as STOCK_RESERVE_OR_FAIL,
    and the queue held no other write that must match one row (`one_trip_ready`)."""
    for statement, batch in _runs(steps):
        if statement is STOCK_RESERVE:  # rows locked in SKU order: no deadlock
            batch.sort(key=lambda params: str(params["k_sku"]))
        elif statement is RESERVATION_INSERT:  # their foreign-key checks' locks too
            batch.sort(key=lambda params: str(params["sku"]))
        sent = STOCK_RESERVE_OR_FAIL if one_trip and statement is STOCK_RESERVE else statement
        rowcount = on_duplicate(_added_concurrently, execute_many, conn, sent, batch)
        if not one_trip and statement in ONE_ROW_EACH and rowcount != len(batch):
            raise ConcurrencyConflict("a row was changed by another transaction")


def _runs(steps: Iterable[Step]) -> Iterator[tuple[Executable, list[dict[str, Any]]]]:
    """Each step's runs of the same statement, in order, with their rows' parameters."""
    for queued in steps:
        start = 0
        while start < len(queued):
            statement, end = queued[start][0], start
            while end < len(queued) and queued[end][0] is statement:
                end += 1
            yield statement, [params for _, params in queued[start:end]]
            start = end


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

    In a write group (`stage`), the order, its lines, the idempotency record and
    the outbox rows wait here too (steps ORDERS to OUTBOX), nothing is sent at
    flush, and a commit hands everything to the group's stage (group_stage.py),
    which sends the whole group's writes at once.
    """

    # Steps, in the order they are sent.
    (
        PRODUCT_INSERTS,
        PRODUCT_UPDATES,
        STOCK_INSERTS,
        STOCK_UPDATES,
        ORDERS,
        ORDER_LINES,
        IDEMPOTENCY,
        OUTBOX,
        STOCK_RESERVES,
        RESERVATIONS,
    ) = range(10)
    STEPS = 10
    # A placement's stock UPDATEs on PostgreSQL (STOCK_RESERVE) take the hot rows'
    # locks, held until COMMIT. The unit of work's commit sends them after everything
    # else but the reservations, and then COMMIT, in one round trip
    # (pipelined_commit.py; otherwise `flush(late=False)`, then `flush()`): the locks
    # are held for those statements and the COMMIT only. The reservations come after
    # the UPDATEs because their foreign-key checks lock the stock rows too (KEY
    # SHARE). Sent first, a waiting placement's check joined the lock of the one it
    # waited for, and every such pair makes a MultiXact: hot SKUs then slowed down
    # round after round as PostgreSQL's MultiXact caches thrashed. After the UPDATE
    # the check locks a row version this transaction wrote, alone
    # (docs/decisions/0034-reservations-after-the-stock-update.md; the UPDATEs lock
    # rows in SKU order, as every writer of stock does, decision 0028).
    LATE = STOCK_RESERVES

    def __init__(
        self, conn: Connection, stage: Stage | None = None, *, defer_inserts: bool = False
    ) -> None:
        self._conn = conn
        self.stage = stage
        # PostgreSQL outside a group: a new order and its lines wait for commit too, so
        # that a placement's writes can go with its COMMIT (pipelined_commit.py).
        self.defer_inserts = defer_inserts
        self._steps: list[Step] = [[] for _ in range(self.STEPS)]
        # (table, key) with queued writes: stock by SKU, reservations by order id.
        self._dirty: set[tuple[str, str]] = set()
        # Stock rows read without a lock along with their products (PostgreSQL), by SKU:
        # (on_hand, reserved, version), for this unit of work's next unlocked stock read.
        self.unlocked_stock: dict[str, tuple[int, int, int]] = {}

    def put(
        self, step: int, table: str, key: str, statement: Executable, params: dict[str, Any]
    ) -> None:
        self._steps[step].append((statement, params))
        self._dirty.add((table, key))
        if table == "stock":
            self.unlocked_stock.pop(key, None)  # no longer what the database holds

    def put_rows(self, step: int, statement: Executable, rows: Sequence[dict[str, Any]]) -> None:
        """Rows no read of this unit of work looks for (staged inserts)."""
        self._steps[step].extend((statement, row) for row in rows)

    def queued(self, table: str, key: str) -> bool:
        """Whether this row has writes waiting here."""
        return (table, key) in self._dirty

    def flush_for(self, table: str, keys: Iterable[str]) -> None:
        """Flush if any of these keys has queued writes (a read is about to see them)."""
        if self._dirty and any((table, key) in self._dirty for key in keys):
            if self.stage is not None:
                # The read must see them now: the group's and ours are sent, and the
                # group stops serving rows it read before (ours bypassed it).
                self.stage.send()
                self.stage.forget_rows()
                self._send()
            else:
                self.flush()

    def flush(self, late: bool = True) -> None:
        """Send what is queued (with `late=False`, the steps before LATE); in a write
        group, keep it for `hand_over`."""
        if self.stage is None:
            self._send(self.STEPS if late else self.LATE)

    def one_trip_ready(self) -> bool:
        """Whether every queued write can be sent with COMMIT, no row count looked at: a
        placement's. The only writes that must match one row are stock reservations,
        each of a SKU this unit of work also inserts a reservation of (whose foreign key
        proves the stock row is there)."""
        reserving: set[str] = set()
        reserved: set[str] = set()
        for step in self._steps:
            for statement, params in step:
                if statement is STOCK_RESERVE:
                    reserving.add(str(params["k_sku"]))
                elif statement is RESERVATION_INSERT:
                    reserved.add(str(params["sku"]))
                elif statement in ONE_ROW_EACH:
                    return False
        return bool(reserving) and reserving <= reserved

    def take_all(self) -> list[Step]:
        """Every queued write, in sending order; the queue is left empty."""
        steps, self._steps = self._steps, [[] for _ in range(self.STEPS)]
        self._dirty.clear()
        return steps

    def hand_over(self) -> None:
        """At commit in a write group: the queued writes become the group's."""
        assert self.stage is not None
        self.stage.take(self.take_all())

    def _send(self, upto: int = STEPS) -> None:
        """Send the steps before `upto`; the rest stay queued."""
        steps = self._steps[:upto]
        self._steps = [[] for _ in range(upto)] + self._steps[upto:]
        if not any(self._steps[upto:]):
            self._dirty.clear()
        send_steps(self._conn, steps)


def send_one_trip(conn: Connection, steps: Sequence[Step]) -> None:
    """A placement's queued writes (all of WriteQueue's steps, as `take_all` gives them)
    inside the pipeline of pipelined_commit.py: as `send_steps(..., one_trip=True)`,
    except that its new rows (the order, its lines, the outbox rows) go as one
    statement (`insert_together`, decision 0032). Their foreign-key checks lock no
    stock row; the stock UPDATEs and then the reservations, which do, follow in SKU
    order (decision 0034)."""
    first, last = WriteQueue.ORDERS, WriteQueue.OUTBOX
    send_steps(conn, steps[:first], one_trip=True)
    batches = _as_columns(steps[first : last + 1])
    if batches is None:  # rows of one statement with different parameters: as before
        send_steps(conn, steps[first : last + 1], one_trip=True)
    else:
        on_duplicate(_added_concurrently, insert_together, conn, batches)
    send_steps(conn, steps[last + 1 :], one_trip=True)


def _as_columns(steps: Sequence[Step]) -> list[tuple[Executable, Columns]] | None:
    """Each run of the same statement as one batch given column by column; None if a
    run's rows do not all carry the same parameters."""
    batches: list[tuple[Executable, Columns]] = []
    for statement, rows in _runs(steps):
        names = rows[0].keys()
        if any(row.keys() != names for row in rows):
            return None
        batches.append((statement, {name: [row[name] for row in rows] for name in names}))
    return batches


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
