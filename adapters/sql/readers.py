"""Where a one-statement read outside any transaction gets its driver connection.

The request path's lookups (the API key, an order) are single statements run on
the driver's cursor (adapters/sql/prepared.py). On SQLite they run inline on the
event loop, and checking a connection out of SQLAlchemy's pool and back in (with
its reset-on-return ROLLBACK) cost as much as the lookup itself: a profile of GET
/v1/orders/{id} put a tenth of the request there. So on SQLite each thread keeps
one driver connection of its own for these reads, opened once with the same
PRAGMAs as the engine's (engines.configure_sqlite), outside the pool, so it never
takes a pooled connection from a writer. The number of such connections is bounded
by the threads that read this way (the event loop, a CLI command).

It stays correct because it never holds a transaction: the connection is in
autocommit mode, each SELECT is fully fetched and its cursor closed, so every read
sees the latest commit (a revoked key is refused on the very next request) and
never pins an old WAL snapshot. A connection that raised a driver error is closed
and replaced on the next read.

PostgreSQL reads run on a pool of threads as large as the connection pool; a
connection per thread there would hold the whole pool, so they check out and in.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine

from adapters.sql.engines import configure_sqlite

Invalidate = Callable[[BaseException], None]

_pid = os.getpid()  # kept current without a system call per read


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


class Readers:
    """Driver connections for single-statement reads of one database."""

    def __init__(self, engine: Engine, busy_timeout: float) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self._busy_timeout = busy_timeout
        self._sqlite = engine.dialect.name == "sqlite"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[sqlite3.Connection] = []  # every thread's, to close on dispose
        self._generation = 0  # bumped by dispose: older connections are closed

    @contextmanager
    def connection(self) -> Iterator[tuple[Any, Invalidate]]:
        """(a DBAPI connection outside any transaction, a call that discards it after a
        lost-connection error). The connection must be left with no open cursor."""
        if not self._sqlite:
            raw = self.engine.raw_connection()
            try:
                yield raw, raw.invalidate
            finally:
                raw.close()
            return
        conn = self._own()
        try:
            yield conn, self._discard
        except sqlite3.Error:
            self._discard()  # a driver error may leave it unusable: start afresh next time
            raise

    def _own(self) -> sqlite3.Connection:
        opened: tuple[int, int, sqlite3.Connection] | None = getattr(self._local, "conn", None)
        # Never a connection made before a fork, nor one `dispose` closed.
        if opened is not None and opened[:2] == (_pid, self._generation):
            return opened[2]
        args, kwargs = self.dialect.create_connect_args(self.engine.url)
        conn: sqlite3.Connection = sqlite3.connect(  # type: ignore[call-overload]
            *args,
            **{
                **kwargs,
                "timeout": self._busy_timeout,
                "isolation_level": None,  # autocommit: a SELECT is its own transaction
                "check_same_thread": False,  # `dispose` closes it from another thread
            },
        )
        configure_sqlite(conn, self._busy_timeout)
        with self._lock:
            self._local.conn = (_pid, self._generation, conn)
            self._open.append(conn)
        return conn

    def _discard(self, _: BaseException | None = None) -> None:
        opened: tuple[int, int, sqlite3.Connection] | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if opened is not None:
            with self._lock:
                if opened[2] in self._open:
                    self._open.remove(opened[2])
            opened[2].close()

    def dispose(self) -> None:
        """Close every thread's connection (a thread reading later opens a new one)."""
        with self._lock:
            opened, self._open = self._open, []
            self._generation += 1
        for conn in opened:
            conn.close()
