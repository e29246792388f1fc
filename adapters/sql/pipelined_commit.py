"""A placement's writes and its COMMIT in one round trip to PostgreSQL.

A placement used to send its writes one round trip each (the order, its lines, the
outbox rows, the reservations, the stock UPDATE) and then COMMIT. Here they go in one
psycopg pipeline that ends with COMMIT, so:
- each process pays one send and one wait instead of six or seven: fewer system calls,
  and fewer times a storage thread gives up the GIL and must win it back;
- the hot stock rows are locked from the UPDATE to the COMMIT, and the server now runs
  them back to back, with only the reservations' INSERT between (decision 0034).
  Before, the lock was held while the answer to the UPDATE travelled back, the thread
  waited for the GIL, and COMMIT travelled out.

What it gives up is the row count of each write before COMMIT. So only a unit of work
whose writes need none goes this way (WriteQueue.one_trip_ready): inserts, and stock
reservations, sent as STOCK_RESERVE_OR_FAIL, which the table's CHECK constraint
refuses when the stock ran short instead of matching no row. An error (a duplicate
key, the CHECK) arrives when the pipeline syncs; the server skips the COMMIT queued
behind it and the unit of work rolls back, as it did when the error came earlier.
See docs/decisions/0030-a-placement-commits-in-one-round-trip.md.

Inside the pipeline the new rows (the order, its lines, the outbox rows) are one
INSERT with CTEs, since each statement costs psycopg's per-statement work; the
stock UPDATEs and then the reservations, which lock stock rows in SKU order, follow
as statements of their own (write_queue.send_one_trip, decisions 0032 and 0034).

An unkeyed placement has begun no transaction when it gets here (its read ran in
autocommit, late_begin.py): its pipeline runs in autocommit too, as one implicit
transaction that the pipeline's one Sync commits, with no BEGIN or COMMIT to send
(decision 0033).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc

from adapters.sql.bulk import driver_error
from adapters.sql.errors import is_unique_violation
from adapters.sql.late_begin import outside_transaction
from adapters.sql.repositories.write_queue import send_one_trip
from adapters.sql.staged import Step
from core.ports.errors import ConcurrencyConflict

_ROLLBACK = b"ROLLBACK"
_CHECK_VIOLATION = "23514"
_FOREIGN_KEY_VIOLATION = "23503"
# The rows a placement's errors can name when stock moved under it.
_STOCK_TABLES = frozenset({"stock", "stock_reservations"})


def commit_in_one_trip(conn: Connection, steps: list[Step]) -> None:
    """Send `steps` and COMMIT on `conn`'s driver connection in one pipeline.

    Raises ConcurrencyConflict for a lost race (a row added concurrently, stock that
    ran short or went away: the use case retries and reads again), else the driver's
    error as SQLAlchemy wraps it. The caller still ends SQLAlchemy's transaction
    (`Connection.commit`, which finds nothing left to send).
    """
    dialect = conn.dialect
    driver = conn.connection.dbapi_connection
    assert driver is not None
    failed: Exception | None = None
    # `implicit`: nothing begun yet (an unkeyed placement's read ran in autocommit,
    # late_begin.py), so the pipeline runs in autocommit and the server keeps everything
    # up to its one Sync (the block's end) in one implicit transaction, committed there
    # or rolled back whole at the first error: no BEGIN or COMMIT to send. Otherwise
    # (a keyed placement) the transaction psycopg began ends with `driver.commit()`.
    with outside_transaction(conn) as implicit:
        try:
            with driver.pipeline():
                try:
                    send_one_trip(conn, steps)
                    if not implicit:
                        driver.commit()
                except Exception as exc:
                    # Raised below, once out of the pipeline: psycopg logs a warning
                    # when leaving an aborted pipeline raises again over an exception.
                    failed = exc
                    if implicit:
                        _roll_back_before_sync(conn, driver)
        except dialect.loaded_dbapi.Error as exc:
            if failed is None:  # else it is that same failure again ("pipeline aborted")
                failed = exc
    if failed is None:
        return
    if not isinstance(failed, dialect.loaded_dbapi.Error):
        # Already in our terms (a duplicate key seen while sending: ConcurrencyConflict),
        # wrapped by a write's own send, or a bug.
        if isinstance(failed, sa_exc.StatementError):
            _raise_lost_race(failed)
        raise failed
    wrapped = driver_error(dialect, failed, driver, "COMMIT", None)
    if getattr(wrapped, "connection_invalidated", False):
        conn.invalidate(failed)
    _raise_lost_race(wrapped)
    raise wrapped from failed


def _roll_back_before_sync(conn: Connection, driver: Any) -> None:
    """A write failed on this side (a value a bind processor refused, a bug) with some
    writes already sent: the Sync at the pipeline's end would commit those. A ROLLBACK
    ends the implicit transaction first (if the server already failed it, ROLLBACK is
    skipped with the rest). If even that cannot be sent, the connection is closed before
    any Sync, and the server rolls back what it holds."""
    try:
        driver.execute(_ROLLBACK)
    except Exception:
        conn.invalidate()


def _raise_lost_race(error: sa_exc.StatementError) -> None:
    if isinstance(error, sa_exc.IntegrityError) and is_unique_violation(error):
        raise ConcurrencyConflict("a row was added concurrently") from error
    orig = error.orig
    table = getattr(getattr(orig, "diag", None), "table_name", None)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in {_CHECK_VIOLATION, _FOREIGN_KEY_VIOLATION} and table in _STOCK_TABLES:
        raise ConcurrencyConflict("the stock changed under this placement") from error
