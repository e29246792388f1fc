"""The engine and how transactions begin, per database.

SQLite (the embedded default): WAL so that readers never block the writer, a busy
timeout, foreign keys on, and write transactions that begin with BEGIN IMMEDIATE,
so that concurrent writers queue for the write lock instead of failing half-way
when a deferred transaction tries to upgrade. Within one process, writers queue
on a lock first (no busy-wait polling); across processes SQLite's busy timeout
does the queueing.

PostgreSQL: a pooled psycopg 3 engine; command loads take row locks.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from adapters.sql.errors import translated
from core.ports.errors import ConcurrencyConflict

BUSY_TIMEOUT_SECONDS = 10.0
PG_POOL_SIZE = 10
SQLITE_CACHE_KIB = 32 * 1024
PG_MAX_OVERFLOW = 20
PG_CONNECT_TIMEOUT_SECONDS = 5
_BEGIN_OPTION = "orderly_begin"
_NO_BEGIN = "none"  # SQLite reads that need no snapshot: each statement is its own


class InvalidDatabaseUrl(ValueError):
    """The database URL cannot be used; the message says why."""


def _hide_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def normalise_url(url: str) -> URL:
    """Parse and check a database URL; PostgreSQL URLs get the psycopg 3 driver."""
    shown = _hide_password(url)
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError) as exc:
        raise InvalidDatabaseUrl(f"cannot parse {shown!r}: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.drivername != "sqlite":
            raise InvalidDatabaseUrl(f"use sqlite:///FILE (the sqlite3 driver), got {shown!r}")
        if not parsed.database or parsed.database == ":memory:" or "mode=memory" in url:
            raise InvalidDatabaseUrl(
                "an in-memory SQLite database is private to one connection; "
                "use memory:// for in-memory storage or sqlite:///FILE"
            )
        return parsed
    if backend in {"postgresql", "postgres"}:
        if parsed.drivername not in {"postgresql", "postgres", "postgresql+psycopg"}:
            raise InvalidDatabaseUrl(
                f"PostgreSQL is used through psycopg 3 (postgresql+psycopg://), got {shown!r}"
            )
        try:
            parsed.port  # noqa: B018 - make_url parses the port lazily
        except ValueError as exc:
            raise InvalidDatabaseUrl(f"bad port in {shown!r}: {exc}") from None
        if not parsed.database:
            raise InvalidDatabaseUrl(f"name the database: postgresql://USER@HOST/DB, got {shown!r}")
        return parsed.set(drivername="postgresql+psycopg")
    raise InvalidDatabaseUrl(f"unsupported database {backend!r} in {shown!r}")


class _WriteGate:
    """One writer at a time in this process (SQLite has a single writer anyway).

    A thread that opens a second write unit of work while holding one would wait
    for itself forever; that is a programming error, reported at once.
    """

    def __init__(self, timeout: float) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._timeout = timeout

    def acquire(self) -> None:
        me = threading.get_ident()
        if self._owner == me:
            raise RuntimeError(
                "nested write unit of work in one thread: SQLite has a single writer, "
                "so the inner one would wait for the outer one forever"
            )
        if not self._lock.acquire(timeout=self._timeout):
            raise ConcurrencyConflict("timed out waiting for the SQLite write lock")
        self._owner = me

    def release(self) -> None:
        self._owner = None
        self._lock.release()


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

    def changes(self) -> int:
        return int(self.conn.connection.dbapi_connection.total_changes)  # type: ignore[union-attr]


class WriteScope:
    """One unit of work's write transaction: its own, or its share of a group's."""

    def __init__(self, database: SqlDatabase, conn: Connection, group: WriteGroup | None) -> None:
        self.conn = conn
        self._db = database
        self._group = group
        self._mark = group.changes() if group is not None else 0
        self._done = False

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


class SqlDatabase:
    """An engine plus the rules for beginning read and write transactions."""

    def __init__(self, engine: Engine, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._local = threading.local()  # the write group this thread runs, if any
        self._unsnapshotted = engine.execution_options(**{_BEGIN_OPTION: _NO_BEGIN})
        size = getattr(engine.pool, "size", None)
        # How many connections are kept open: callers size their thread pools to it.
        self.pool_size: int = size() if callable(size) else 1
        self._gate = _WriteGate(busy_timeout) if self.is_sqlite else None

    @classmethod
    def from_url(cls, url: str, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> SqlDatabase:
        """Build the engine; InvalidDatabaseUrl if the URL is unusable (nothing connects yet)."""
        parsed = normalise_url(url)
        if parsed.get_backend_name() == "sqlite":
            return cls(_sqlite_engine(parsed, busy_timeout), busy_timeout)
        return cls(_postgres_engine(parsed), busy_timeout)

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
                conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
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
            yield group
            if group.spoiled:
                raise GroupSpoiled("a member failed after changing rows")
            with translated():
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
        its own (no BEGIN and ROLLBACK around it: a quarter of a one-row lookup's cost).
        PostgreSQL's driver always opens its own transaction."""
        engine = self.engine if snapshot else self._unsnapshotted
        with translated(), engine.connect() as conn:
            yield conn

    def ping(self) -> None:
        """DependencyUnavailable unless the database answers a query."""
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_engine(url: URL, busy_timeout: float) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout},
        # Readers are many (WAL lets them run beside the writer); the writer is one.
        pool_size=8,
        max_overflow=32,
        pool_timeout=busy_timeout,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 driver, so that SELECTs run inside the
        # transaction too and write transactions can begin IMMEDIATE (see `_on_begin`).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL survives application crashes and keeps the file
            # consistent; a power cut may lose the last commits (see README).
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            # Page cache per connection (SQLite's default is 2 MiB): index inserts at
            # random keys (UUIDs) re-read pages from the OS once the indexes outgrow it.
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        if mode != _NO_BEGIN:
            conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _postgres_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_SECONDS
    return create_engine(
        url,
        connect_args=connect_args,
        pool_size=PG_POOL_SIZE,
        max_overflow=PG_MAX_OVERFLOW,
        pool_timeout=30,
        pool_pre_ping=True,
    )
