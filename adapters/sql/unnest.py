"""A batch of INSERTs or keyed UPDATEs as one PostgreSQL statement over arrays.

`executemany` sends one Bind/Execute per row: psycopg converts every row's
parameters in Python and the server plans and runs the statement once per row.
A worker's flush writes hundreds of rows per table (payments, orders, the inbox,
the outbox), so on PostgreSQL such a batch is sent as one statement whose
parameters are one array per column:

    INSERT INTO t (a, b) SELECT * FROM unnest(%(a)s::T[], %(b)s::U[])
    UPDATE t SET a = v.a FROM unnest(%(a)s::T[], %(k_id)s::V[]) AS v(a, k_id)
        WHERE t.id = v.k_id AND t.version = v.k_version

Same rows written, same values (each column's bind processor still runs), same row
count (a versioned UPDATE that misses a row still counts one fewer), same errors
(a unique violation is raised by the one statement). Only plain shapes are
rewritten: an INSERT of the given columns, an UPDATE that sets columns to
parameters where every condition is `column = parameter`; anything else (the
stock reservation's arithmetic) returns None and stays an executemany.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
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

# Below this many rows the per-row statement is as cheap (and the request path's
# few-row writes stay exactly as they were).
MIN_ROWS = 8


def _cast(column: ColumnElement[Any], dialect: Dialect) -> str | None:
    """The array type the parameter is cast to, or None for a type not handled here.
    Strings are cast to VARCHAR[] without a length: an explicit cast to VARCHAR(n)
    would cut a long value short, where the column's own assignment refuses it."""
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, String):
        return "VARCHAR[]"
    if isinstance(kind, Integer | DateTime | JSON | Boolean):
        return f"{column.type.compile(dialect=dialect)}[]"
    return None


def _arrays(typed: Mapping[str, ColumnElement[Any]], dialect: Dialect) -> str | None:
    casts = {key: _cast(column, dialect) for key, column in typed.items()}
    if None in casts.values():
        return None
    return ", ".join(f"%({key})s::{cast}" for key, cast in casts.items())


def _conditions(statement: Update) -> list[tuple[Column[Any], str]] | None:
    where = statement.whereclause
    if where is None:
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
    if isinstance(where, BooleanClauseList) and where.operator is not operator.and_:
        return None
    return found


def unnest_sql(statement: Any, dialect: Dialect, keys: tuple[str, ...]) -> str | None:
    """The statement over one array per parameter, or None if its shape is not handled.
    The arrays are passed as `%(name)s`, one per key, in any order."""
    if dialect.name != "postgresql" or not isinstance(statement, Insert | Update):
        return None
    if statement._values or statement._returning or statement._post_values_clause is not None:
        return None
    table = statement.table
    if not isinstance(table, Table):
        return None
    quote = dialect.identifier_preparer.quote
    columns = table.c
    name = quote(table.name)
    if isinstance(statement, Insert):
        if statement._multi_values or statement.select is not None:
            return None
        if any(key not in columns for key in keys):
            return None
        arrays = _arrays({key: columns[key] for key in keys}, dialect)
        names = ", ".join(quote(columns[key].name) for key in keys)
        return arrays and f"INSERT INTO {name} ({names}) SELECT * FROM unnest({arrays})"
    conditions = _conditions(statement)
    if conditions is None:
        return None
    by_param = {param: column for column, param in conditions}
    settable = [key for key in keys if key not in by_param]
    if not settable or any(key not in columns for key in settable):
        return None
    if set(by_param) - set(keys):
        return None
    arrays = _arrays({key: columns[key] for key in settable} | by_param, dialect)
    if arrays is None:
        return None
    sets = ", ".join(f"{quote(columns[key].name)} = v.{quote(key)}" for key in settable)
    where = " AND ".join(
        f"{name}.{quote(column.name)} = v.{quote(param)}" for column, param in conditions
    )
    aliases = ", ".join(quote(key) for key in keys)
    return f"UPDATE {name} SET {sets} FROM unnest({arrays}) AS v({aliases}) WHERE {where}"
