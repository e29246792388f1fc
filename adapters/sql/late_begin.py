"""An unkeyed placement on PostgreSQL begins no transaction of its own: its read runs
in autocommit, and its writes commit at its pipeline's one Sync.

psycopg sends BEGIN, and waits for its answer, before the first statement a
connection runs outside autocommit. A placement's first statement is its read of
products and stock, which locks nothing; under READ COMMITTED every statement reads
its own snapshot, so that read returns the same inside a transaction or outside one.
So while the unit of work's connection has begun nothing, the read runs in autocommit
(`outside_transaction`), and so does the pipeline of pipelined_commit.py, whose writes
the server keeps in one implicit transaction up to the pipeline's Sync.

Only a statement that locks and writes nothing may run this way before the pipeline.
Anything sent before it that does (a keyed placement's idempotency record, a locked
read, an early flush) goes the usual way, and psycopg begins the transaction before
it. A connection never goes back to its pool in autocommit: the block's end puts it
back, rolling back first if anything is still open, and invalidates the connection if
that cannot be done. See docs/decisions/0033.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

# libpq's PQTRANS_IDLE (psycopg.pq.TransactionStatus.IDLE), here as its value: importing
# psycopg would cost every SQLite process (the CLI, the import) its start-up time.
_IDLE = 0


@contextmanager
def outside_transaction(conn: Connection) -> Iterator[bool]:
    """Autocommit on `conn`'s driver connection for the block, if it has begun no
    transaction yet; yields whether it did (so that the block knows no COMMIT is
    needed, and that statements which must go together need one Sync). `conn` is a
    PostgreSQL connection whose driver is psycopg."""
    driver: Any = conn.connection.dbapi_connection
    if driver.autocommit or driver.pgconn.transaction_status != _IDLE:
        yield False
        return
    driver.autocommit = True
    try:
        yield True
    finally:
        _transactional_again(conn, driver)


def _transactional_again(conn: Connection, driver: Any) -> None:
    try:
        if driver.pgconn.transaction_status != _IDLE:
            driver.rollback()  # something the block left open
        driver.autocommit = False
    except conn.dialect.loaded_dbapi.Error:
        conn.invalidate()  # the connection is gone, or cannot be trusted: discard it
