"""Where a one-statement read outside any transaction gets its driver connection.

The request path's lookups (the API key, an order) are single statements run on
the driver's cursor (adapters/sql/prepared.py). Checking a connection out of
SQLAlchemy's pool and back in for each cost as much as the lookup itself: on
SQLite a tenth of GET /v1/orders/{id} (pool bookkeeping, the reset ROLLBACK); on
PostgreSQL two more round trips per lookup (the pre-ping, the reset ROLLBACK).
So each thread that reads this way keeps one connection of its own, taken from
the engine once (with the engine's connect-time setup: PRAGMAs, timeouts) and
detached from the pool, so it never takes a pooled connection from a writer.
Their number is bounded by the threads that read: on SQLite the event loop (reads
run inline there), on PostgreSQL the request threads (as many as the pool).

It stays correct because it never holds a transaction: the connection is in
autocommit mode, each SELECT is fully fetched and its cursor closed, so every read
sees the latest commit (a revoked key is refused on the very next request) and
never pins an old snapshot. A connection that raised a driver error is closed and
replaced on the next read (after a database restart, the first read fails and the
next one reconnects); a connection that cannot be opened is DependencyUnavailable.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import Engine

from adapters.sql.errors import first_line
from core.ports.errors import DependencyUnavailable

Invalidate = Callable[[BaseException], None]

_pid = os.getpid()  # kept current without a system call per read


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


class Readers:
    """Driver connections for single-statement reads of one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self._sqlite = engine.dialect.name == "sqlite"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[Any] = []  # every thread's, to close on dispose
        self._generation = 0  # bumped by dispose: older connections are closed

    @contextmanager
    def connection(self) -> Iterator[tuple[Any, Invalidate]]:
        """(this thread's connection, outside any transaction; a call that discards it).
        The caller must leave no open cursor on it."""
        conn = self._own()
        try:
            yield conn, self._discard
        except self.dialect.loaded_dbapi.Error:
            self._discard()  # it may be unusable (the server went away): start afresh
            raise

    def current(self) -> tuple[Any, Invalidate]:
        """What `connection` yields, without a context manager around it (whose
        enter and exit cost a third of a key lookup's own Python): for a caller that
        catches every driver error itself and calls the discard function when the
        connection is gone (prepared.py)."""
        return self._own(), self._discard

    def _own(self) -> Any:
        opened: tuple[int, int, Any] | None = getattr(self._local, "conn", None)
        # Never a connection made before a fork, nor one `dispose` closed.
        if opened is not None and opened[:2] == (_pid, self._generation):
            return opened[2]
        try:
            conn = self.engine.raw_connection()  # connected and set up as the engine does
        except self.dialect.loaded_dbapi.Error as exc:
            # `raw_connection` hands over the driver's own error (`Engine.connect` would
            # have wrapped it): a server that refuses connections (down, or out of
            # them) makes the database unavailable, as for any other read.
            raise DependencyUnavailable("database", "cannot connect: " + first_line(exc)) from exc
        conn.detach()  # ours until closed: the pool neither counts nor resets it
        if not self._sqlite:  # SQLite's connections already run without BEGIN (engines.py)
            driver: Any = conn.dbapi_connection
            driver.autocommit = True
        with self._lock:
            self._local.conn = (_pid, self._generation, conn)
            self._open.append(conn)
        return conn

    def _discard(self, _: BaseException | None = None) -> None:
        opened: tuple[int, int, Any] | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if opened is None:
            return
        with self._lock:
            ours = opened[2] in self._open  # else `dispose` has closed it already
            if ours:
                self._open.remove(opened[2])
        if ours:
            self._close(opened[2])

    def dispose(self) -> None:
        """Close every thread's connection (a thread reading later opens a new one)."""
        with self._lock:
            opened, self._open = self._open, []
            self._generation += 1
        for conn in opened:
            self._close(conn)

    def _close(self, conn: Any) -> None:
        # The driver's connection is closed directly, without the pool's reset ROLLBACK
        # (it holds no transaction, and a connection the server dropped would only log
        # that ROLLBACK's failure); a read racing with `dispose` then gets the driver's
        # own "closed" error, which callers handle like any driver error.
        driver = conn.dbapi_connection
        if driver is not None:
            with suppress(self.dialect.loaded_dbapi.Error):  # already gone
                driver.close()
