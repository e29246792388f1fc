"""Hot SELECTs compiled once and run on the driver's cursor.

`Connection.execute` spends about 40 µs per statement on SQLAlchemy's own
bookkeeping (execution context, events, result objects, expanding IN lists); a
primary-key lookup in SQLite takes under 10. The statements on the request path
(authentication, the order lookup, a placement's product and stock reads) are
compiled once per dialect here, from the same Core statements and tables, and
executed on the DBAPI connection: the engine's (`Prepared.rows`, a read of its
own) or a unit of work's, inside its transaction (`select_rows`). Binds and
results still go through each column type's processors (UtcDateTime, JSON), so
the values are the ones `Connection.execute` returns, and driver errors are
wrapped as SQLAlchemy would wrap them, then translated (adapters/sql/errors.py).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Dialect, Select

from adapters.sql import staged
from adapters.sql.bulk import driver_error
from adapters.sql.errors import reraise, translate_driver_error
from adapters.sql.lists import ByDialect
from adapters.sql.readers import Readers

Processor = Callable[[Any], Any] | None
# Where each parameter the driver gets comes from: (name, None) is params[name];
# (name, i) is params[name][i], an element of an expanding IN list.
Source = tuple[str, int | None]


class Prepared:
    """One Core SELECT, compiled for one dialect (and, for a statement with expanding
    IN lists, for one length of each list); `rows()` runs it."""

    def __init__(
        self, statement: Select[Any], dialect: Dialect, lists: Mapping[str, int] | None = None
    ) -> None:
        sizes = dict(lists or {})
        compiled = statement.compile(dialect=dialect)
        if sizes:
            # Render each list as that many placeholders (name_1, name_2, ...); the values
            # given here only fill the compiler's need for one.
            sample: dict[str, Any] = {name: None for name in compiled.binds}
            sample.update({name: [None] * size for name, size in sizes.items()})
            compiled = statement.params(sample).compile(
                dialect=dialect, compile_kwargs={"render_postcompile": True}
            )
        self.sql = compiled.string
        # Parameters rendered as one placeholder per element: the cache key's list lengths.
        self.expanding = tuple(name for name, bind in compiled.binds.items() if bind.expanding)
        # Values the statement carries itself (SQLite's `OFFSET ?` after a LIMIT).
        self._fixed = {
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        }
        self._positional = compiled.positional
        expanded = {
            f"{name}_{i + 1}": (name, i) for name, size in sizes.items() for i in range(size)
        }
        names = list(compiled.positiontup or []) if self._positional else list(expanded)
        if not self._positional:
            names += [name for name in compiled.binds if name not in sizes]
        binds: Mapping[str, Any] = compiled._bind_processors
        self._sources: list[tuple[str, Source, Processor]] = [
            (name, source, binds.get(name) or binds.get(source[0]))
            for name in names
            for source in [expanded.get(name, (name, None))]
        ]
        columns = compiled._result_columns
        self.keys = [column.keyname for column in columns]
        self._processors: list[Processor] = [
            column.type._cached_result_processor(dialect, None) for column in columns
        ]

    def _args(self, params: Mapping[str, Any]) -> Any:
        if self._fixed:
            params = {**self._fixed, **params}
        values = []
        for _, (name, index), process in self._sources:
            value = params[name] if index is None else params[name][index]
            values.append(process(value) if process is not None else value)
        if self._positional:
            return tuple(values)
        return {name: value for (name, _, _), value in zip(self._sources, values, strict=True)}

    def rows(self, readers: Readers, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A read of its own, outside any transaction (adapters/sql/readers.py)."""
        raw, invalidate = readers.current()  # `_run` wraps every driver error
        return self._run(raw, readers.dialect, params, invalidate)

    def rows_on(self, conn: Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """In `conn`'s transaction, on its own DBAPI connection."""
        return self._run(conn.connection, conn.dialect, params, conn.invalidate)

    def _run(
        self,
        raw: Any,
        dialect: Dialect,
        params: Mapping[str, Any],
        invalidate: Callable[[BaseException], None],
    ) -> list[dict[str, Any]]:
        try:
            args = self._args(params)
            cursor = raw.cursor()
            try:
                cursor.execute(self.sql, args)
                fetched = cursor.fetchall()
            finally:
                cursor.close()
        except (UnicodeEncodeError, OverflowError) as exc:  # refused before it was sent
            refused = translate_driver_error(exc)
            assert refused is not None
            raise refused from exc
        except dialect.loaded_dbapi.Error as exc:
            dbapi_connection = getattr(raw, "dbapi_connection", raw)  # pooled, or a reader's own
            wrapped = driver_error(dialect, exc, dbapi_connection, self.sql, params)
            if getattr(wrapped, "connection_invalidated", False):
                invalidate(exc)
            reraise(wrapped)
        keys, processors = self.keys, self._processors
        if len(fetched) < 2:  # the common one-row lookup: row by row is cheapest
            return [
                {
                    key: (process(value) if process is not None else value)
                    for key, process, value in zip(keys, processors, row, strict=True)
                }
                for row in fetched
            ]
        # Several rows (an order with its lines, a batch of orders): column by column, and
        # a repeated value converted once (a JOIN repeats the order's datetimes per line).
        columns = [
            values if process is None else _converted(values, process)
            for process, values in zip(processors, zip(*fetched, strict=True), strict=True)
        ]
        return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]


# Results that may be shared between rows: nothing can change them in place.
_IMMUTABLE = frozenset({datetime, str, int, float, bool, type(None), Decimal})


def _converted(values: Sequence[Any], process: Callable[[Any], Any]) -> list[Any]:
    """`process` over `values`, reusing the last result while the value repeats, if the
    result is immutable (a JSON document is not: each row gets its own)."""
    out: list[Any] = []
    last_in: Any = out  # a sentinel no value can be
    last_out: Any = None
    for value in values:
        if value is not last_in and (value != last_in or type(value) is not type(last_in)):
            last_out = process(value)
            last_in = value if type(last_out) in _IMMUTABLE else out
        out.append(last_out)
    return out


_CACHE: weakref.WeakKeyDictionary[Dialect, dict[Any, Prepared]] = weakref.WeakKeyDictionary()


def select_rows(
    conn: Connection,
    statement: Select[Any] | ByDialect[Select[Any]],
    params: Mapping[str, Any],
    *,
    send_staged: bool = True,
) -> list[dict[str, Any]]:
    """`conn.execute(statement, params).mappings().all()`, in `conn`'s transaction, through
    a Prepared compiled once per dialect and statement, and per length of each expanding
    list parameter (a list sent as an array, adapters/sql/lists.py, needs no such key).

    In a write group the group's staged writes are sent first (staged.py), unless the
    caller knows none of them can be among the rows (`send_staged=False`)."""
    if send_staged:
        staged.send_staged()
    dialect = conn.dialect
    if isinstance(statement, ByDialect):
        statement = statement.of(dialect)
    cache = _CACHE.get(dialect)
    if cache is None:
        cache = _CACHE[dialect] = {}
    prepared = cache.get(statement)
    if prepared is None:
        prepared = cache[statement] = Prepared(statement, dialect)
    if prepared.expanding:
        lists = tuple((name, len(params[name])) for name in prepared.expanding)
        key = (statement, lists)
        sized = cache.get(key)
        if sized is None:
            sized = cache[key] = Prepared(statement, dialect, dict(lists))
        prepared = sized
    return prepared.rows_on(conn, params)
