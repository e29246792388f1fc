"""Hot SELECTs compiled once and run on the driver's cursor.

`Connection.execute` spends about 40 µs per statement on SQLAlchemy's own
bookkeeping (execution context, events, result objects); a primary-key lookup
in SQLite takes under 10. Authentication runs on every request and the order
lookup on every GET, so these statements are compiled once per dialect here,
from the same Core statements and tables, and executed on the DBAPI
connection. Binds and results still go through each column type's processors
(UtcDateTime, JSON), so the values are the ones `Connection.execute` returns,
and driver errors are wrapped as SQLAlchemy would wrap them, then translated
(adapters/sql/errors.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Dialect, Select
from sqlalchemy.engine import Engine

from adapters.sql.bulk import driver_error
from adapters.sql.errors import reraise, translate_driver_error

Processor = Callable[[Any], Any] | None


class Prepared:
    """One Core SELECT, compiled for one dialect; `rows()` runs it."""

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self._positional = compiled.positional
        self._order = list(compiled.positiontup or [])
        self._bind: Mapping[str, Any] = compiled._bind_processors
        columns = compiled._result_columns
        self.keys = [column.keyname for column in columns]
        self._processors: list[Processor] = [
            column.type._cached_result_processor(dialect, None) for column in columns
        ]

    def _args(self, params: Mapping[str, Any]) -> Any:
        bound = {}
        for name, value in params.items():
            process = self._bind.get(name)
            bound[name] = process(value) if process is not None else value
        return tuple(bound[name] for name in self._order) if self._positional else bound

    def rows(self, engine: Engine, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        args = self._args(params)
        raw = engine.raw_connection()
        try:
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
        except engine.dialect.loaded_dbapi.Error as exc:
            wrapped = driver_error(engine.dialect, exc, raw.dbapi_connection, self.sql, args)
            if getattr(wrapped, "connection_invalidated", False):
                raw.invalidate(exc)
            reraise(wrapped)
        finally:
            raw.close()
        keys, processors = self.keys, self._processors
        return [
            {
                key: (process(value) if process is not None else value)
                for key, process, value in zip(keys, processors, row, strict=True)
            }
            for row in fetched
        ]
