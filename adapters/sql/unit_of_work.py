"""The SQL unit of work: one connection, one write transaction, the outbox inside it.

State changes, outbox rows, inbox rows and idempotency records all go through
the same connection, so they commit together or not at all. Product and stock
writes are queued (repositories/write_queue.py) and sent in batches by commit.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, insert
from sqlalchemy import exc as sa_exc

from adapters.sql.bulk import execute_columns
from adapters.sql.database import SqlDatabase, WriteScope
from adapters.sql.errors import reraise, translate_driver_error
from adapters.sql.mapping import outbox_columns
from adapters.sql.pipelined_commit import commit_in_one_trip
from adapters.sql.repositories.orders import SqlOrderRepository
from adapters.sql.repositories.payments import SqlPaymentRepository
from adapters.sql.repositories.principals import SqlPrincipalRepository
from adapters.sql.repositories.products import SqlProductRepository
from adapters.sql.repositories.records import SqlIdempotencyRepository, SqlInbox
from adapters.sql.repositories.reservations import SqlReservationRepository
from adapters.sql.repositories.stock import SqlStockRepository
from adapters.sql.repositories.write_queue import WriteQueue
from adapters.sql.tables import outbox
from adapters.tracing import otel
from core.domain.events import EventEnvelope
from core.ports.system import Clock, IdGenerator
from core.ports.unit_of_work import AfterCommit, BoundUnitOfWorkFactory, UnitOfWork

_OUTBOX_INSERT = insert(outbox)


class SqlUnitOfWork(UnitOfWork):
    def __init__(
        self,
        database: SqlDatabase,
        ids: IdGenerator,
        clock: Clock,
        after_commit: AfterCommit | None = None,
    ) -> None:
        super().__init__(ids, after_commit)
        self._db = database
        self._clock = clock
        self._conn: Connection | None = None
        self._scope: WriteScope | None = None
        self._scope_used: WriteScope | None = None  # kept after close, for the hook
        self._one_trip = False  # this commit sends every write with COMMIT (`commit`)

    def _announce(self, envelopes: list[EventEnvelope]) -> None:
        # In a write group the events are durable only once the group commits.
        notify, scope = self._after_commit, self._scope_used
        if notify is None:
            return
        if scope is None:
            notify(envelopes)
        else:
            scope.after_commit(lambda: notify(envelopes))

    def __enter__(self) -> UnitOfWork:
        try:
            return super().__enter__()
        except sa_exc.SQLAlchemyError as exc:
            reraise(exc)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            super().__exit__(exc_type, exc, tb)
        except sa_exc.SQLAlchemyError as error:
            reraise(error)
        # A database error inside the block becomes the core's signal: a lost race
        # (ConcurrencyConflict, retried by the use case), DependencyUnavailable, or a
        # value the driver or database refused (ValidationError).
        if exc is not None:
            translated = translate_driver_error(exc)
            if translated is not None:
                raise translated from exc

    def _begin(self) -> None:
        scope = self._scope = self._scope_used = self._db.open_write()
        conn = self._conn = scope.conn
        # In a write group, a placement's writes wait in the group's stage (group_stage.py).
        queue = self._queue = WriteQueue(conn, scope.stage, defer_inserts=not self._db.is_sqlite)
        self.products = SqlProductRepository(conn, queue, self.tracked.add)
        self.stock = SqlStockRepository(conn, queue, self.tracked.add)
        self.reservations = SqlReservationRepository(conn, queue)
        self.orders = SqlOrderRepository(conn, self.tracked.add, queue)
        self.payments = SqlPaymentRepository(conn)
        self.principals = SqlPrincipalRepository(conn)
        self.idempotency = SqlIdempotencyRepository(conn, queue)
        self.inbox = SqlInbox(conn, self._clock)

    def _connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block")
        return self._conn

    def commit(self) -> list[EventEnvelope]:
        self._connection()
        # A placement on PostgreSQL: every write with the COMMIT (pipelined_commit.py).
        queue = self._queue
        self._one_trip = queue.defer_inserts and queue.stage is None and queue.one_trip_ready()
        if not self._one_trip:
            # Queued product and stock writes, in the same transaction; the stock
            # reservations' row locks last of all (`_commit`).
            queue.flush(late=False)
        return super().commit()

    def _write_outbox(self, envelopes: list[EventEnvelope]) -> None:
        if not envelopes:
            return
        now = self._clock.now()
        trace = otel.current_traceparent()
        connection = self._connection()
        columns = outbox_columns(envelopes, now, trace)
        if self._queue.stage is not None or self._one_trip:
            names = list(columns)
            rows = [
                dict(zip(names, values, strict=True))
                for values in zip(*columns.values(), strict=True)
            ]
            self._queue.put_rows(WriteQueue.OUTBOX, _OUTBOX_INSERT, rows)
            return
        if trace is None:
            # Left out, so NULL by default: Python's sqlite3 passes every None it binds
            # through its adapter lookup (a failed attribute lookup, an exception made and
            # cleared), 3 % of a bulk import's instructions for this one column.
            del columns["trace_context"]
        # On PostgreSQL the table's trigger notifies listening relays at commit
        # (outbox_channel.py).
        execute_columns(connection, _OUTBOX_INSERT, columns)

    def _commit(self) -> None:
        self._connection()
        assert self._scope is not None
        if self._queue.stage is not None:
            self._queue.hand_over()  # sent when the group commits
        elif self._one_trip:
            commit_in_one_trip(self._connection(), self._queue.take_all())
        else:
            self._queue.flush()  # what `commit` kept back: the stock locks, last
        self._scope.commit()

    def _rollback(self) -> None:
        if self._scope is not None:
            self._scope.rollback()

    def _close(self) -> None:
        scope, self._scope, self._conn = self._scope, None, None
        if scope is not None:
            scope.close()


class SqlUnitOfWorkFactory(BoundUnitOfWorkFactory[SqlDatabase]):
    unit_of_work = SqlUnitOfWork
