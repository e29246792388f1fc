"""A batch of INSERTs or keyed UPDATEs as one PostgreSQL statement over a JSON document.

`executemany` sends one Bind/Execute per row: psycopg converts every row's
parameters in Python and the server plans and runs the statement once per row.
A worker's flush writes hundreds of rows per table (payments, orders, the inbox,
the outbox), so on PostgreSQL such a batch is sent as one statement with one
parameter, the rows as a JSON array written by msgspec (in C):

    INSERT INTO t (a, b) SELECT a, b FROM jsonb_to_recordset(%s::jsonb) AS v(a T, b U)
    UPDATE t SET a = v.a FROM jsonb_to_recordset(%s::jsonb) AS v(a T, k_id V, k_version W)
        WHERE t.id = v.k_id AND t.version = v.k_version

(Arrays per column, `unnest(%(a)s::T[], ...)`, were tried first: psycopg dumps
arrays element by element in Python, which cost more than the executemany.)
Same rows written, same values (each column's bind processor still runs; JSON
columns take the value itself), same row count (a versioned UPDATE that misses a
row counts one fewer), same errors (a unique violation is raised by the one
statement; strings are declared VARCHAR without a length, so an over-long value
is refused by the column, not cut). Only plain shapes are rewritten: an INSERT of
the given columns, an UPDATE setting columns to parameters where every condition
is `column = parameter`, over strings, integers, booleans, datetimes and JSON;
anything else (the stock reservation's arithmetic) stays an executemany.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    Dialect,
    Insert,
    Integer,
    String,
    Table,
    Update,
)
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, BooleanClauseList
from sqlalchemy.types import TypeDecorator

# Below this many rows the per-row statement is as cheap: UPDATEs (each joins the
# document with its table) and SQLite's multi-row INSERTs (bulk.py).
MIN_ROWS = 8
# INSERTs go as one statement from this many rows. Each row of an `executemany` is a
# Bind/Execute that psycopg builds in Python; a placement's three lines and three
# reservations cost 7 % fewer instructions in the serving process as two documents
# (benchmarks/app_driver.py under callgrind, session 20), and no more server CPU.
MIN_INSERT_ROWS = 2


@dataclass(frozen=True)
class RecordSet:
    sql: str  # one positional parameter: the JSON array of the rows
    raw: frozenset[str]  # parameters of JSON columns: their value goes into the document as is
    # An UPDATE's parameters that name its row (its primary key's, else all of its
    # conditions'); empty for an INSERT.
    identity: tuple[str, ...] = ()

    @property
    def min_rows(self) -> int:
        return MIN_ROWS if self.identity else MIN_INSERT_ROWS

    def serves(self, columns: Mapping[str, Sequence[Any]]) -> bool:
        """Whether this batch may go as one statement. An UPDATE that changes one row
        twice (a unit of work that saved an aggregate twice) may not: one statement
        updates a row once, and the second change would match nothing."""
        if not self.identity:
            return True
        rows = list(zip(*(columns[key] for key in self.identity), strict=True))
        return len(set(rows)) == len(rows)


def _declared(column: ColumnElement[Any], dialect: Dialect) -> str | None:
    """The type a parameter is read as from the document, or None if not handled here."""
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, String):
        return "VARCHAR"
    if isinstance(kind, Integer | DateTime | JSON | Boolean):
        return str(column.type.compile(dialect=dialect))
    return None


def _conditions(statement: Update) -> list[tuple[Column[Any], str]] | None:
    where = statement.whereclause
    if where is None:
        return None
    if isinstance(where, BooleanClauseList) and where.operator is not operator.and_:
        return None
    parts = list(where.clauses) if isinstance(where, BooleanClauseList) else [where]
    found: list[tuple[Column[Any], str]] = []
    for part in parts:
        if not (
            isinstance(part, BinaryExpression)
            and part.operator is operator.eq
            and isinstance(part.left, Column)
            and part.left.table is statement.table
            and isinstance(part.right, BindParameter)
            and not part.right.expanding
        ):
            return None
        found.append((part.left, part.right.key))
    return found


def _source(typed: Mapping[str, ColumnElement[Any]], dialect: Dialect) -> tuple[str, set[str]]:
    declared = {key: _declared(column, dialect) for key, column in typed.items()}
    if None in declared.values():
        raise LookupError
    quote = dialect.identifier_preparer.quote
    fields = ", ".join(f"{quote(key)} {kind}" for key, kind in declared.items())
    raw = {key for key, column in typed.items() if isinstance(column.type, JSON)}
    return f"jsonb_to_recordset(%s::jsonb) AS v({fields})", raw


def recordset(statement: Any, dialect: Dialect, keys: tuple[str, ...]) -> RecordSet | None:
    """The statement over a JSON document of its rows (keyed by parameter name), or None
    if its shape is not one handled here."""
    if dialect.name != "postgresql" or not isinstance(statement, Insert | Update):
        return None
    if statement._values or statement._returning or statement._post_values_clause is not None:
        return None
    table = statement.table
    if not isinstance(table, Table):
        return None
    quote = dialect.identifier_preparer.quote
    columns, name = table.c, quote(table.name)
    try:
        if isinstance(statement, Insert):
            if statement._multi_values or statement.select is not None:
                return None
            if any(key not in columns for key in keys):
                return None
            source, raw = _source({key: columns[key] for key in keys}, dialect)
            names = ", ".join(quote(columns[key].name) for key in keys)
            values = ", ".join(f"v.{quote(key)}" for key in keys)
            return RecordSet(
                f"INSERT INTO {name} ({names}) SELECT {values} FROM {source}", frozenset(raw)
            )
        conditions = _conditions(statement)
        if conditions is None:
            return None
        by_param = {param: column for column, param in conditions}
        settable = [key for key in keys if key not in by_param]
        if not settable or any(key not in columns for key in settable):
            return None
        if set(by_param) - set(keys):
            return None
        source, raw = _source({key: columns[key] for key in settable} | by_param, dialect)
    except LookupError:
        return None
    sets = ", ".join(f"{quote(columns[key].name)} = v.{quote(key)}" for key in settable)
    where = " AND ".join(
        f"{name}.{quote(column.name)} = v.{quote(param)}" for column, param in conditions
    )
    identity = tuple(param for column, param in conditions if column.primary_key) or tuple(
        param for _, param in conditions
    )
    return RecordSet(
        f"UPDATE {name} SET {sets} FROM {source} WHERE {where}", frozenset(raw), identity
    )
