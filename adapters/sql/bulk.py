"""Batched writes compiled once and sent with one `executemany` on the driver's cursor.

`Connection.execute(statement, rows)` rebuilds every row through SQLAlchemy's
execution context (`construct_params`, one bind-processor call per value): for
an import batch of 1,000 products that was about 60 % of the command's time,
against a few milliseconds for the driver's own `executemany`. Here a Core
INSERT/UPDATE/DELETE is compiled once per dialect and set of parameter names,
the rows are converted column by column through the same bind processors
(UtcDateTime, JSON), a processor's last result is reused when the next row
carries the very same object (one `now` per batch), and the driver runs the
statement on the unit of work's own connection, inside its transaction.
Driver errors are wrapped as SQLAlchemy wraps them, so callers (unique
violations, adapters/sql/errors.py) see the same exceptions as before.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import msgspec
from sqlalchemy import Connection, Dialect, Executable, Insert
from sqlalchemy import exc as sa_exc
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from adapters.sql import staged
from adapters.sql.recordset import MIN_ROWS, recordset

Processor = Callable[[Any], Any]
_ENCODER = msgspec.json.Encoder()


# A batch given column by column: each parameter's values, one per row, in row order.
Columns = Mapping[str, Sequence[Any]]


class _Compiled:
    def __init__(self, statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        binds: Mapping[str, Any] = compiled._bind_processors
        # Parameter names in the order the driver wants them (positional), or all of them.
        self.names: list[str] = (
            list(compiled.positiontup or []) if self.positional else list(compiled.binds)
        )
        unknown = [name for name in self.names if name not in keys]
        if unknown:
            raise ValueError(f"parameters {unknown} missing for {self.sql!r}")
        self.processors: list[Processor | None] = [binds.get(name) for name in self.names]
        # PostgreSQL: the whole batch as one statement over a JSON document (recordset.py).
        self.recordset = recordset(statement, dialect, keys)
        raw = self.recordset.raw if self.recordset else frozenset()
        # SQLite: a batch as multi-row INSERTs (VALUES (...), (...)): one step of the
        # engine, and one release of the GIL, per statement instead of per row.
        self.rows_sql = _values_sql(statement, dialect, self.sql) if self.positional else None
        self._keys = keys
        self._document_processors = [None if k in raw else binds.get(k) for k in keys]
        # The statement with PostgreSQL's positional placeholders only, and the parameter
        # each one takes, in order: made when first asked for (`parts`).
        self._positional_form: tuple[str, list[str]] | None = None

    def document(self, columns: Columns) -> str | None:
        """The rows as the recordset's JSON document; None if msgspec refuses a value
        (a lone surrogate): the caller sends them row by row instead."""
        processed = _processed_columns(self._keys, self._document_processors, columns)
        keys = self._keys
        documents = [
            dict(zip(keys, values, strict=True)) for values in zip(*processed, strict=True)
        ]
        try:
            return _ENCODER.encode(documents).decode()
        except (TypeError, ValueError, msgspec.EncodeError):
            return None

    def parts(self, columns: Columns, count: int) -> list[tuple[str, list[Any]]]:
        """The batch as positional statements with their values: one over a JSON
        document where the recordset serves, else one per row."""
        batch = self.recordset
        if batch is not None and count >= batch.min_rows and batch.serves(columns):
            document = self.document(columns)
            if document is not None:
                return [(batch.sql, [document])]
        processed = dict(
            zip(self.names, _processed_columns(self.names, self.processors, columns), strict=True)
        )
        if self._positional_form is None:
            self._positional_form = _as_positional(self.sql, self.names, self.positional)
        sql, order = self._positional_form
        return [(sql, [processed[name][row] for name in order]) for row in range(count)]

    def processed(self, columns: Columns) -> list[Sequence[Any]]:
        """Each parameter's values through its bind processor, in the driver's order."""
        return _processed_columns(self.names, self.processors, columns)

    def args(self, columns: Columns) -> list[Any]:
        processed = _processed_columns(self.names, self.processors, columns)
        if self.positional:
            return list(zip(*processed, strict=True))
        names = self.names
        return [dict(zip(names, values, strict=True)) for values in zip(*processed, strict=True)]


# A placeholder the driver fills (named or positional), or an escaped percent sign.
_PLACEHOLDER = re.compile(r"%%|%\((\w+)\)s|%s")


def _as_positional(sql: str, names: Sequence[str], positional: bool) -> tuple[str, list[str]]:
    """psycopg's named (%(name)s) or positional (%s) placeholders, all as %s."""
    order: list[str] = []
    given = iter(names)

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%%"
        order.append(match.group(1) if match.group(1) is not None else next(given))
        return "%s"

    converted = _PLACEHOLDER.sub(one, sql)
    if positional and len(order) != len(names):
        raise ValueError(f"placeholders and parameters differ in {sql!r}")
    return converted, order


def _processed_columns(
    names: Sequence[str], processors: Sequence[Processor | None], columns: Columns
) -> list[Sequence[Any]]:
    """Each named parameter's values, through its bind processor if any."""
    return [
        columns[name] if process is None else _processed(columns[name], process)
        for name, process in zip(names, processors, strict=True)
    ]


def _processed(values: Sequence[Any], process: Processor) -> list[Any]:
    out: list[Any] = []
    last_in: Any = out  # a sentinel no value can be
    last_out: Any = None
    for value in values:
        if value is not last_in:
            last_in, last_out = value, process(value)
        out.append(last_out)
    return out


# Rows per multi-row INSERT: powers of two, so a batch of any size is a few statements
# from a bounded set (SQLite caches prepared statements by their text), and far below
# SQLite's limit of 32,766 parameters per statement.
_CHUNKS = (256, 128, 64, 32, 16, 8, 4, 2, 1)


class _RowsSql:
    """A plain SQLite INSERT (`... VALUES (?, ...)`) repeated for several rows at once."""

    def __init__(self, head: str, one_row: str) -> None:
        self._by_count = {n: head + ", ".join([one_row] * n) for n in _CHUNKS}

    def statements(
        self, columns: Sequence[Sequence[Any]], count: int
    ) -> list[tuple[str, list[Any]]]:
        """The rows, given column by column in the driver's parameter order, as a few
        statements, each with its flat list of parameters. Each column goes into its
        place in the flat list by one slice assignment (a copy in C), not value by value
        through a row tuple: an import's commit binds 3 million values."""
        width = len(columns)
        out, start = [], 0
        for size in _CHUNKS:
            while count - start >= size:
                flat: list[Any] = [None] * (size * width)
                for index, values in enumerate(columns):
                    flat[index::width] = values[start : start + size]
                out.append((self._by_count[size], flat))
                start += size
        return out


def _values_sql(statement: ClauseElement, dialect: Dialect, sql: str) -> _RowsSql | None:
    if dialect.name != "sqlite" or not isinstance(statement, Insert):
        return None
    if (
        statement._values
        or statement._returning
        or statement._post_values_clause is not None
        or statement._multi_values
        or statement.select is not None
    ):
        return None
    head, marker, one_row = sql.rpartition(" VALUES ")
    if not marker or not one_row.startswith("(") or not one_row.endswith(")"):
        return None
    return _RowsSql(head + marker, one_row)


_CACHE: weakref.WeakKeyDictionary[Dialect, dict[tuple[Any, ...], _Compiled]] = (
    weakref.WeakKeyDictionary()
)


def _compiled(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    cache = _CACHE.get(dialect)
    if cache is None:
        cache = _CACHE[dialect] = {}
    found = cache.get((statement, keys))
    if found is None:
        assert isinstance(statement, ClauseElement)
        found = cache[(statement, keys)] = _Compiled(statement, dialect, keys)
    return found


def execute_many(conn: Connection, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> int:
    """Run `statement` once per row in `conn`'s transaction; returns the rows it matched.

    Every row must carry the same parameter names. Raises SQLAlchemy's DBAPIError
    subclasses (IntegrityError, OperationalError, ...) as `Connection.execute` would.
    """
    if not rows:
        return 0
    staged.send_staged()  # in a write group, after the writes staged before it
    first = rows[0].keys()
    width = len(first)
    # The same names in every row: as many in each, and each has all of the first's (a
    # KeyError says one has not). Cheaper than comparing every row's keys as sets.
    same = width > 0
    for row in rows:
        if len(row) != width:
            same = False
            break
    if same:
        try:
            columns = {name: [row[name] for row in rows] for name in first}
        except KeyError:  # (not contextlib.suppress: it costs more than a small write)
            same = False
    if not same:
        return int(conn.execute(statement, list(rows)).rowcount)
    return _execute(conn, statement, columns, len(rows))


def insert_together(conn: Connection, batches: Sequence[tuple[Executable, Columns]]) -> None:
    """Send several INSERT batches (each given column by column, and each column as long
    as the batch) as one PostgreSQL statement: the first batches become data-modifying
    CTEs (`WITH w0 AS (INSERT ...), ...`) of the last one's INSERT.

    One statement, so one round of the driver's per-statement work (a cursor, the
    query's conversion, the prepared-statement bookkeeping, in a pipeline a wait for the
    socket) instead of one per batch. Foreign keys between the batches hold: PostgreSQL
    checks them when the whole statement is done. Its CTEs run in an order it does not
    specify, so only inserts whose foreign-key checks lock no contended row in an order
    that matters belong here (pipelined_commit.py sends a placement's stock UPDATEs and
    reservations, which lock stock rows in SKU order, apart). Raises as `_execute`."""
    dialect = conn.dialect
    parts: list[tuple[str, list[Any]]] = []
    try:
        for statement, columns in batches:
            count = len(next(iter(columns.values()), ()))
            if count:
                parts += _compiled(statement, dialect, tuple(columns)).parts(columns, count)
    except Exception as exc:  # a bind processor refused a value, as in Connection.execute
        raise _bind_error(exc, None) from exc
    if not parts:
        return
    *ctes, (last, _) = parts
    sql = last
    if ctes:
        heads = ", ".join(f"w{n} AS ({cte})" for n, (cte, _) in enumerate(ctes))
        sql = f"WITH {heads} {last}"
    args = [value for _, values in parts for value in values]
    proxied = conn.connection
    try:
        cursor = proxied.cursor()
        try:
            cursor.execute(sql, args)
        finally:
            cursor.close()
    except dialect.loaded_dbapi.Error as exc:
        _raise_driver_error(conn, exc, sql, args)


def execute_columns(conn: Connection, statement: Executable, columns: Columns) -> int:
    """`execute_many` of rows given column by column (every column as long): for a
    caller that holds its values that way, no dict per row to build and take apart
    again (a bulk import's outbox rows, 2,000 per commit)."""
    staged.send_staged()  # in a write group, after the writes staged before it
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError("every column of a batch has one value per row")
    count = lengths.pop() if lengths else 0
    return _execute(conn, statement, columns, count) if count else 0


def _execute(conn: Connection, statement: Executable, columns: Columns, count: int) -> int:
    keys = tuple(columns)
    dialect = conn.dialect
    compiled = _compiled(statement, dialect, keys)
    batch = compiled.recordset
    if batch is not None and (count < batch.min_rows or not batch.serves(columns)):
        batch = None
    sql = compiled.sql
    rows_sql = compiled.rows_sql if count >= MIN_ROWS else None
    try:
        document = compiled.document(columns) if batch is not None else None
        args: list[Any] = []
        processed: list[Sequence[Any]] = []
        if rows_sql is not None:
            processed = compiled.processed(columns)
        elif batch is not None and document is not None:
            sql, args = batch.sql, [(document,)]  # the whole batch in one statement
        else:
            args = compiled.args(columns)
    except Exception as exc:  # a bind processor refused a value, as in Connection.execute
        raise _bind_error(exc, compiled.sql) from exc
    if rows_sql is not None:
        return _execute_rows(conn, rows_sql, processed, count)
    dbapi_error = dialect.loaded_dbapi.Error
    proxied = conn.connection
    try:
        cursor = proxied.cursor()
        try:
            if len(args) == 1:
                cursor.execute(sql, args[0])
            else:
                cursor.executemany(sql, args)
            return int(cursor.rowcount)
        finally:
            cursor.close()
    except dbapi_error as exc:
        _raise_driver_error(conn, exc, sql, args)


def _execute_rows(
    conn: Connection, rows_sql: _RowsSql, columns: Sequence[Sequence[Any]], count: int
) -> int:
    """A SQLite batch as multi-row INSERTs on the unit of work's connection."""
    dialect, proxied = conn.dialect, conn.connection
    inserted = 0
    statements = rows_sql.statements(columns, count)
    sql, flat = statements[0]
    try:
        cursor = proxied.cursor()
        try:
            for sql, flat in statements:
                cursor.execute(sql, flat)
                inserted += int(cursor.rowcount)
        finally:
            cursor.close()
    except dialect.loaded_dbapi.Error as exc:
        _raise_driver_error(conn, exc, sql, flat)
    return inserted


def _bind_error(exc: Exception, sql: str | None) -> sa_exc.StatementError:
    """A value a bind processor refused, as `Connection.execute` reports it."""
    return sa_exc.StatementError(
        f"({type(exc).__module__}.{type(exc).__name__}) {exc}", sql, None, exc
    )


def _raise_driver_error(conn: Connection, exc: Exception, sql: str, args: Any) -> NoReturn:
    """Raise a driver error of `sql` as `Connection.execute` would, after invalidating
    `conn` if the error means the connection is gone."""
    wrapped = driver_error(conn.dialect, exc, conn.connection.dbapi_connection, sql, args)
    if getattr(wrapped, "connection_invalidated", False):
        conn.invalidate(exc)
    raise wrapped from exc


def driver_error(
    dialect: Dialect, exc: Any, dbapi_connection: Any, sql: str, args: Any
) -> sa_exc.StatementError:
    """A driver error as `Connection.execute` would raise it (IntegrityError, ...), marked
    `connection_invalidated` when the connection is gone (the caller invalidates it)."""
    lost = bool(dialect.is_disconnect(exc, dbapi_connection, None))
    wrapped: sa_exc.StatementError = sa_exc.DBAPIError.instance(
        sql, args, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )
    return wrapped
