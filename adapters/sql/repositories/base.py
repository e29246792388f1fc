"""What every SQL repository shares: unique keys deciding races, and versioned saves.

Saves are conditional on the version that was loaded: `UPDATE ... WHERE key = :k_key
AND version = :k_version`; no row means another transaction moved it, and
ConcurrencyConflict lets the use case retry.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, ClassVar, ParamSpec, TypeVar

from sqlalchemy import Connection, Executable, Select
from sqlalchemy import exc as sa_exc

from adapters.sql.bulk import execute_many
from adapters.sql.errors import is_unique_violation
from adapters.sql.prepared import select_rows
from core.domain.events import EventRecorder
from core.ports.errors import ConcurrencyConflict

P = ParamSpec("P")
R = TypeVar("R")
Track = Callable[[EventRecorder], None]
# A versioned UPDATE to send: (key, version after the save, parameters without k_version).
Versioned = tuple[Hashable, int, dict[str, Any]]


def on_duplicate(
    duplicate: Callable[[], Exception], send: Callable[P, R], *args: P.args, **kwargs: P.kwargs
) -> R:
    """`send(*args)`, an INSERT or a batch of writes, where a unique-key violation is a lost
    race or a duplicate request in the core's terms: `duplicate()` is raised instead."""
    try:
        return send(*args, **kwargs)
    except sa_exc.IntegrityError as exc:
        if is_unique_violation(exc):
            raise duplicate() from exc
        raise


class VersionedRepository:
    """A repository of versioned rows: the versions it loaded, and saves that expect them.

    Subclasses name the locking load of one row: `_by_key`, whose key parameter is
    `_key_param`.
    """

    _by_key: ClassVar[Select[Any]]
    _key_param: ClassVar[str]

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        # Version of each aggregate as loaded in this unit of work: what `save` expects.
        self._loaded: dict[Hashable, int] = {}

    def _expected(self, key: Hashable) -> int:
        """The version loaded here; for a row not loaded here the stored one (it must
        still exist, as in the in-memory adapter), else ConcurrencyConflict."""
        expected = self._loaded.get(key)
        if expected is None:
            expected = self._current_version(key)
            if expected is None:
                raise ConcurrencyConflict(f"{key!r} is not stored")
        return expected

    def _current_version(self, key: Hashable) -> int | None:
        rows = select_rows(self._conn, self._by_key, {self._key_param: key})
        return int(rows[0]["version"]) if rows else None

    def _update(self, statement: Executable, items: list[Versioned]) -> None:
        """Run versioned UPDATEs now, several as one executemany (batched event handlers);
        ConcurrencyConflict unless every one matched its row."""
        for key, _, params in items:
            params["k_version"] = self._expected(key)
        if execute_many(self._conn, statement, [params for _, _, params in items]) != len(items):
            raise ConcurrencyConflict(
                f"{items[0][0]!r} was changed by another transaction"
                if len(items) == 1
                else "a row was changed by another transaction"
            )
        for key, version, _ in items:
            self._loaded[key] = version
