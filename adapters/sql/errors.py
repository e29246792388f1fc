"""Database errors in the core's terms: a lost race, a dependency that is down, or a
value the database refused.

Entrypoints validate input with the domain's rules before it gets here, so a driver
should never see NUL, a lone surrogate or an out-of-range number. Should one slip
through all the same, the driver's refusal is the caller's bad input (422), never a 500:
PostgreSQL data exceptions (SQLSTATE class 22, and psycopg's own refusal of NUL),
and the encoding or integer-range errors drivers raise before sending anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from sqlalchemy import exc as sa_exc

from core.domain.errors import ValidationError
from core.ports.errors import ConcurrencyConflict, DependencyUnavailable

# PostgreSQL SQLSTATEs of a transaction that lost a race and may simply be retried.
_PG_RETRYABLE = {
    "40001": "serialization failure",
    "40P01": "deadlock detected",
    "55P03": "lock not available",
}
_MISSING_SCHEMA = "the schema is not migrated; run `orderly db upgrade`"


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def refused_value(detail: str) -> ValidationError:
    return ValidationError(f"the database refused a value: {detail}")


def translate_driver_error(error: BaseException) -> Exception | None:
    """Errors a driver raises before sending a value it cannot encode or store.

    A lone surrogate cannot be encoded (UnicodeEncodeError, psycopg and sqlite3 alike);
    sqlite3 refuses an int beyond 64 bits (OverflowError).
    """
    if isinstance(error, UnicodeEncodeError):
        return refused_value("text that cannot be encoded as UTF-8")
    if isinstance(error, OverflowError):
        return refused_value(f"a number out of range ({first_line(error)})")
    if isinstance(error, sa_exc.SQLAlchemyError):
        return translate(error)
    return None


def translate(error: sa_exc.SQLAlchemyError) -> Exception | None:
    """The core's signal for `error`, or None when it is a bug to let through as is."""
    if isinstance(error, sa_exc.TimeoutError):
        return DependencyUnavailable("database", "no free connection in the pool: " + str(error))
    if not isinstance(error, sa_exc.DBAPIError):
        return None
    orig: BaseException = error.orig if error.orig is not None else error
    if error.connection_invalidated:
        return DependencyUnavailable("database", "connection lost: " + first_line(orig))
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(error, sa_exc.DataError) and (
        sqlstate is None or (isinstance(sqlstate, str) and sqlstate.startswith("22"))
    ):
        # 22xxx data exception (a number out of range, NUL in JSONB, a string too long)
        # or psycopg's client-side refusal of NUL in text (no sqlstate): bad input.
        return refused_value(first_line(orig))
    if isinstance(sqlstate, str):  # psycopg (PostgreSQL)
        if sqlstate in _PG_RETRYABLE:
            return ConcurrencyConflict(_PG_RETRYABLE[sqlstate])
        if sqlstate == "42P01":  # undefined_table
            return DependencyUnavailable("database", f"{_MISSING_SCHEMA} ({first_line(orig)})")
        if sqlstate[:2] in {"08", "53", "57"}:  # connection, resources, operator intervention
            return DependencyUnavailable("database", first_line(orig))
        return None
    if isinstance(error, sa_exc.OperationalError):
        message = first_line(orig)
        if "database is locked" in message or "database is busy" in message:
            return ConcurrencyConflict("the database is busy with another writer")
        if message.startswith("no such table"):
            return DependencyUnavailable("database", f"{_MISSING_SCHEMA} ({message})")
        # Cannot connect, disk I/O, read-only file: the database is not usable now.
        return DependencyUnavailable("database", message)
    return None


def reraise(error: sa_exc.SQLAlchemyError) -> NoReturn:
    """Raise the translation of `error` (chained to it), or `error` itself."""
    translated = translate(error)
    if translated is None:
        raise error
    raise translated from error


@contextmanager
def translated() -> Iterator[None]:
    """Translate database and driver errors raised in the block (see `translate_driver_error`)."""
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        reraise(exc)
    except (UnicodeEncodeError, OverflowError) as exc:
        translated_error = translate_driver_error(exc)
        if translated_error is None:
            raise
        raise translated_error from exc


def is_unique_violation(error: sa_exc.IntegrityError) -> bool:
    """A duplicate key (primary key or unique constraint), on either database."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        return True
    name = getattr(orig, "sqlite_errorname", "")
    return name in {"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"}
