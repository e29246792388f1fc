"""Database URLs and engines, per database.

SQLite (the embedded default): WAL so that readers never block the writer, a busy
timeout, foreign keys on, and BEGIN taken over from the driver so that write
transactions can begin IMMEDIATE (adapters/sql/database.py decides which do).
PostgreSQL: a pooled psycopg 3 engine.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from adapters.sql.bulk import driver_error

BUSY_TIMEOUT_SECONDS = 10.0
PG_POOL_SIZE = 10
SQLITE_CACHE_KIB = 32 * 1024
PG_MAX_OVERFLOW = 20
PG_CONNECT_TIMEOUT_SECONDS = 5
PING_IF_IDLE_SECONDS = 1.0
_ENCODER = msgspec.json.Encoder()
BEGIN_OPTION = "orderly_begin"
NO_BEGIN = "none"  # SQLite reads that need no snapshot: each statement is its own


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


def engine_for(url: str, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> Engine:
    """Build the engine; InvalidDatabaseUrl if the URL is unusable (nothing connects yet)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, busy_timeout)
    return _postgres_engine(parsed)


def json_text(value: Any) -> str:
    """JSON columns' text (outbox payloads, webhook documents), written by msgspec:
    the standard library's encoder was a tenth of a CSV import. Equal values to
    `json.dumps`, written compactly and in UTF-8; a value msgspec refuses (a lone
    surrogate) is written by `json.dumps`, as before."""
    try:
        return _ENCODER.encode(value).decode()
    except (TypeError, ValueError, msgspec.EncodeError):
        return json.dumps(value)


def json_value(text: str | bytes) -> Any:
    """The value of JSON text, by msgspec, else by `json.loads` (what msgspec refuses)."""
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


def _sqlite_engine(url: URL, busy_timeout: float) -> Engine:
    engine = create_engine(
        url,
        json_serializer=json_text,
        json_deserializer=json_value,
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
        configure_sqlite(dbapi_conn, busy_timeout)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
        if mode != NO_BEGIN:
            _begin_on_driver(conn, f"BEGIN {mode}")

    return engine


def _begin_on_driver(conn: Connection, sql: str) -> None:
    """BEGIN on the driver's connection. Through `exec_driver_sql` it paid SQLAlchemy's
    execution context (events, cursor wrapper, result) on every write transaction, more
    than SQLite's BEGIN itself; a failure is wrapped as that would have wrapped it."""
    dbapi_conn = conn.connection.dbapi_connection
    try:
        dbapi_conn.execute(sql)  # type: ignore[union-attr]
    except conn.dialect.loaded_dbapi.Error as exc:
        wrapped = driver_error(conn.dialect, exc, dbapi_conn, sql, ())
        if getattr(wrapped, "connection_invalidated", False):
            conn.invalidate(exc)
        raise wrapped from exc


def configure_sqlite(dbapi_conn: Any, busy_timeout: float) -> None:
    """The PRAGMAs every Orderly connection to a SQLite file runs once."""
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


def _postgres_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_SECONDS
    engine = create_engine(
        url,
        json_serializer=json_text,
        json_deserializer=json_value,
        connect_args=connect_args,
        pool_size=PG_POOL_SIZE,
        max_overflow=PG_MAX_OVERFLOW,
        pool_timeout=30,
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling, for connections that sat idle only.

    `pool_pre_ping` pinged on every checkout: one more round trip per unit of work,
    about a tenth of an order placement on a busy server. A connection checked in
    under PING_IF_IDLE_SECONDS ago was just working; one idle longer (the server
    may have restarted, a proxy may have dropped it) is pinged, and a dead one is
    replaced before anyone uses it (the pool retries on DisconnectionError). A
    connection that dies while hot fails its statement: that surfaces as
    DependencyUnavailable and the connection is discarded, as before.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_IF_IDLE_SECONDS:
            return  # new, or just used
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise sa_exc.DisconnectionError(f"idle connection is gone: {exc}") from exc
