"""Statements with a list parameter whose SQL text does not change with the list's length.

`column IN (:a_1, :a_2, ...)` (an expanding parameter) is a new SQL string for every
length of the list: psycopg caches the conversion of a bounded number of query
strings and prepares a statement server-side only after it has seen the same text
several times, so batches of changing sizes (a worker's flushes, a relay's claims)
paid both again and again. On PostgreSQL the list is therefore sent as one array,
`column = ANY(:a::VARCHAR[])`: one text per statement. SQLite has no arrays; there
the expanding `IN` stays (adapters/sql/prepared.py compiles it once per length).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ARRAY, ColumnElement, Dialect, any_, bindparam

S = TypeVar("S")
InList = Callable[[ColumnElement[Any], str], ColumnElement[bool]]


def _expanding(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    return column.in_(bindparam(name, expanding=True))


def _array(column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    return column == any_(bindparam(name, type_=ARRAY(column.type)))


@dataclass(frozen=True, eq=False)
class ByDialect(Generic[S]):
    """One statement built twice: with `= ANY(array)` for PostgreSQL, `IN (...)` otherwise.
    Its list parameters take a Python list on both."""

    postgresql: S
    other: S

    def of(self, dialect: Dialect) -> S:
        return self.postgresql if dialect.name == "postgresql" else self.other


def with_list(build: Callable[[InList], S]) -> ByDialect[S]:
    """`build(in_list)` for each dialect; `in_list(column, "name")` is the membership test."""
    return ByDialect(build(_array), build(_expanding))
