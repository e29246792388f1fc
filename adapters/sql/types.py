"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator, TypeEngine


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on both databases.

    PostgreSQL stores `timestamptz`. SQLite has no time zones: values are stored as
    naive UTC text in a fixed-width format, so that text order is time order (the
    keyset pagination of orders relies on it). Naive datetimes are refused on the
    way in rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: Orderly stores timezone-aware UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    # On SQLite, the text is written and read here in one step, in C where it can be
    # (isoformat, fromisoformat), instead of our conversion followed by SQLAlchemy's
    # DATETIME formatting and parsing: a twentieth of an order placement's CPU went
    # there. The text is the very format SQLAlchemy's DATETIME writes
    # ("YYYY-MM-DD HH:MM:SS.ffffff"), so rows written either way read the same.
    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_text

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _sqlite_datetime


def _sqlite_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: Orderly stores timezone-aware UTC only")
        value = value.astimezone(UTC)
    return value.isoformat(sep=" ", timespec="microseconds")[:26]  # without "+00:00"


def _sqlite_datetime(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# JSON documents: binary JSONB on PostgreSQL, text on SQLite.
Json: TypeEngine[Any] = JSON().with_variant(JSONB(), "postgresql")

# A 64-bit key that is still SQLite's INTEGER PRIMARY KEY (its rowid alias, which autoincrements).
BigId: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")

# Counts of stock: 64-bit everywhere. SQLite's INTEGER already holds 64 bits (and its
# INTEGER type name is what its schema reflects), PostgreSQL needs BIGINT.
BigCount: TypeEngine[int] = BigInteger().with_variant(Integer(), "sqlite")
