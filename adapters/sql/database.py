"""How transactions begin, per database (the engines themselves: engines.py).

SQLite: write transactions begin with BEGIN IMMEDIATE,
so that concurrent writers queue for the write lock instead of failing half-way
when a deferred transaction tries to upgrade. Within one process, writers queue
on a lock first (no busy-wait polling); across Orderly's processes, on a file lock
beside the database (process_lock.py); other programs meet SQLite's busy timeout.

PostgreSQL: a pooled psycopg 3 engine; command loads take row locks.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

from adapters.sql.engines import BEGIN_OPTION, BUSY_TIMEOUT_SECONDS, NO_BEGIN, engine_for
from adapters.sql.errors import translated
from adapters.sql.group_stage import GroupStage, total_changes
from adapters.sql.process_lock import ProcessWriteLock, lock_path
from adapters.sql.readers import Readers
from core.ports.errors import ConcurrencyConflict


class _WriteGate:
    """One writer at a time in this process (SQLite has a single writer anyway), in the
    order they asked.

    A release hands the gate to the longest waiter. With a plain lock, the thread
    that just released (the relay between two handler batches, the placement writer
    between two groups) usually took it again before the woken waiter was scheduled
    and had the GIL back, so one side could hold the writer for several turns in a
    row: the other side's tail latency (docs/performance.md).

    A thread that opens a second write unit of work while holding one would wait
    for itself forever; that is a programming error, reported at once.

    The owner then takes `across`, the lock shared with Orderly's other processes
    on the same file, and lets it go before handing the gate on.
    """

    def __init__(self, timeout: float, across: ProcessWriteLock | None = None) -> None:
        self._mutex = threading.Lock()  # guards _owner and _waiters
        self._owner: int | None = None
        self._waiters: deque[tuple[int, threading.Lock]] = deque()
        self._timeout = timeout
        self._across = across

    def acquire(self) -> None:
        self._acquire_here()
        if self._across is None:
            return
        try:
            self._across.acquire()
        except BaseException:
            self._release_here()
            raise

    def release(self) -> None:
        try:
            if self._across is not None:
                self._across.release()
        finally:
            self._release_here()

    def _acquire_here(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                raise RuntimeError(
                    "nested write unit of work in one thread: SQLite has a single writer, "
                    "so the inner one would wait for the outer one forever"
                )
            if self._owner is None:
                self._owner = me
                return
            turn = threading.Lock()
            turn.acquire()
            waiter = (me, turn)
            self._waiters.append(waiter)
        if turn.acquire(timeout=self._timeout):
            return  # handed over by `release`, which made us the owner
        with self._mutex:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                raise ConcurrencyConflict("timed out waiting for the SQLite write lock")
        # Handed over between the timeout and the check above: ours after all.

    def _release_here(self) -> None:
        with self._mutex:
            if self._waiters:
                self._owner, turn = self._waiters.popleft()
                turn.release()
            else:
                self._owner = None


class WriteGroup:
    """Group commit on SQLite: several units of work in one transaction, no savepoints.

    A placement reads and validates before it writes, and its failures (short of
    stock, unknown SKU) happen before its first write; a statement SQLite refuses
    undoes itself. So a member that fails without having changed a row leaves the
    group intact. One that fails after changing rows spoils the group: the group
    rolls back and its caller runs every member again on its own. SQLite's
    `total_changes` tells the two apart. (Savepoints would isolate members too,
    but measured slower than the commits they save.)
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.after_commit: list[Callable[[], None]] = []
        self.spoiled = False
        # The members' writes, sent together at the group's commit (group_stage.py).
        self.stage = GroupStage(conn)

    def changes(self) -> int:
        """Rows the members changed themselves (sending staged writes is not a change of
        the member that caused it: a read-only member that fails spoils nothing)."""
        return total_changes(self.conn) - self.stage.sent_changes


class WriteScope:
    """One unit of work's write transaction: its own, or its share of a group's."""

    def __init__(self, database: SqlDatabase, conn: Connection, group: WriteGroup | None) -> None:
        self.conn = conn
        self._db = database
        self._group = group
        self._mark = group.changes() if group is not None else 0
        self._done = False

    @property
    def stage(self) -> GroupStage | None:
        """Where this work's writes wait for the group's commit; None outside a group."""
        return self._group.stage if self._group is not None else None

    def commit(self) -> None:
        """Commit; in a group, the group commits later for everyone."""
        if self._group is None:
            self.conn.commit()
        self._done = True

    def rollback(self) -> None:
        if self._group is None:
            self.conn.rollback()
        elif not self._done and self._group.changes() != self._mark:
            self._group.spoiled = True
        self._done = True

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run `hook` once this work is durable: now, or when the group commits."""
        if self._group is not None:
            self._group.after_commit.append(hook)
        else:
            hook()

    def close(self) -> None:
        if self._group is None:
            self._db.end_write(self.conn)
        elif not self._done:
            self.rollback()


class GroupSpoiled(Exception):
    """A member of a write group failed after changing rows: nothing of it was kept."""


def _sqlite_gate(engine: Engine, timeout: float) -> _WriteGate:
    database = engine.url.database
    return _WriteGate(timeout, ProcessWriteLock(lock_path(database), timeout) if database else None)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: resolving it here would block; count it as remote
        return False


class SqlDatabase:
    """An engine plus the rules for beginning read and write transactions."""

    def __init__(self, engine: Engine, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._local = threading.local()  # the write group this thread runs, if any
        # A read that needs no snapshot runs each statement on its own: no BEGIN (SQLite),
        # autocommit (PostgreSQL: no BEGIN and COMMIT round trips around it).
        self._unsnapshotted = (
            engine.execution_options(**{BEGIN_OPTION: NO_BEGIN})
            if self.is_sqlite
            else engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        size = getattr(engine.pool, "size", None)
        # How many connections are kept open: callers size their thread pools to it.
        self.pool_size: int = size() if callable(size) else 1
        self._gate = _sqlite_gate(engine, busy_timeout) if self.is_sqlite else None
        self.readers = Readers(engine)  # single-statement reads (readers.py)

    @classmethod
    def from_url(cls, url: str, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> SqlDatabase:
        """Build the engine; InvalidDatabaseUrl if the URL is unusable (nothing connects yet)."""
        return cls(engine_for(url, busy_timeout), busy_timeout)

    @property
    def is_local(self) -> bool:
        """Whether a statement's round trip stays on this machine: a SQLite file, or a
        PostgreSQL server on a loopback address or a Unix socket (no host at all is
        libpq's default socket)."""
        if self.is_sqlite:
            return True
        url = self.engine.url
        hosts = url.query.get("host") or url.host or ""
        for host in [hosts] if isinstance(hosts, str) else list(hosts):
            for one in host.split(","):
                one = one.strip()
                if one and not one.startswith("/") and not _is_loopback(one):
                    return False
        return True

    @property
    def url(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    def begin_write(self) -> Connection:
        """A connection in a write transaction (BEGIN IMMEDIATE on SQLite).

        The caller must end it with `end_write`, which also releases the write gate.
        """
        if self._gate is not None:
            self._gate.acquire()
        conn: Connection | None = None
        try:
            with translated():
                conn = self.engine.connect()
                conn.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
                conn.begin()
            return conn
        except BaseException:
            if conn is not None:
                conn.close()
            if self._gate is not None:
                self._gate.release()
            raise

    def open_write(self) -> WriteScope:
        """The write transaction of one unit of work (its share of a `group`, if any)."""
        group: WriteGroup | None = getattr(self._local, "group", None)
        if group is not None:
            return WriteScope(self, group.conn, group)
        return WriteScope(self, self.begin_write(), None)

    @contextmanager
    def group(self) -> Iterator[WriteGroup]:
        """Run the write units of work this thread opens inside the block in one
        transaction, committed once at the end (see WriteGroup). Nothing is durable,
        and no after-commit hook runs, before the block ends: its caller must answer
        no one before then. Raises GroupSpoiled (all rolled back) when a member
        failed after changing rows. SQLite only."""
        if getattr(self._local, "group", None) is not None:
            raise RuntimeError("write groups do not nest")
        conn = self.begin_write()
        group = WriteGroup(conn)
        self._local.group = group
        try:
            with group.stage:
                yield group
                if group.spoiled:
                    raise GroupSpoiled("a member failed after changing rows")
                with translated():
                    group.stage.send()
                    conn.commit()
        finally:
            self._local.group = None
            self.end_write(conn)
        for hook in group.after_commit:
            hook()

    def end_write(self, conn: Connection) -> None:
        """Roll back whatever was not committed, close, and let the next writer in."""
        try:
            conn.close()
        finally:
            if self._gate is not None:
                self._gate.release()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction that commits when the block ends normally."""
        conn = self.begin_write()
        try:
            with translated():
                yield conn
                conn.commit()
        finally:
            self.end_write(conn)

    @contextmanager
    def read(self, snapshot: bool = True) -> Iterator[Connection]:
        """A read-only connection: with `snapshot`, one transaction, so all its queries see
        one consistent state; without, on SQLite each query sees the latest commit on
        its own (no BEGIN and ROLLBACK around it: a quarter of a one-row lookup's cost;
        on PostgreSQL, two round trips of three).

        On PostgreSQL a snapshot read ends with COMMIT, not the pool's ROLLBACK: it
        wrote nothing, so both end it alike, but psycopg forgets every statement it
        has prepared on that connection at each ROLLBACK (and sends DEALLOCATE ALL),
        so the webhook sender's polls (every half second) kept every statement of
        every placement and delivery from ever being prepared (docs/performance.md,
        session 18)."""
        engine = self.engine if snapshot else self._unsnapshotted
        with translated(), engine.connect() as conn:
            yield conn
            if not self.is_sqlite:
                conn.commit()  # a no-op with nothing begun, or in autocommit

    def ping(self) -> None:
        """DependencyUnavailable unless the database answers a query."""
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.readers.dispose()
        self.engine.dispose()
