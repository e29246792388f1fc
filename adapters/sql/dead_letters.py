"""In-process delivery's dead letters in the `dead_letters` table (SQLite, PostgreSQL).

Each operation is one short transaction of its own: parking a delivery happens
after the handler's unit of work failed, outside any other transaction.
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, delete, func, insert, select

from adapters.sql.database import SqlDatabase
from adapters.sql.mapping import envelope_from_row, envelope_values
from adapters.sql.tables import dead_letters
from core.ports.messaging import DeadLetter

_KEY = and_(
    dead_letters.c.handler == bindparam("k_handler"),
    dead_letters.c.event_id == bindparam("k_event_id"),
)
_DELETE_ONE = delete(dead_letters).where(_KEY)
_INSERT = insert(dead_letters)
_OLDEST = (
    select(dead_letters)
    .order_by(dead_letters.c.dead_lettered_at, dead_letters.c.handler, dead_letters.c.event_id)
    .limit(bindparam("limit"))
)
_COUNT = select(func.count()).select_from(dead_letters)
_PURGE = delete(dead_letters)


class SqlDeadLetterStore:
    def __init__(self, database: SqlDatabase) -> None:
        self._db = database

    def add(self, letter: DeadLetter) -> None:
        key = {"k_handler": letter.handler, "k_event_id": letter.envelope.event_id}
        row = envelope_values(letter.envelope) | {
            "handler": letter.handler,
            "attempts": letter.attempts,
            "error": letter.error[:1000],
            "dead_lettered_at": letter.dead_lettered_at,
        }
        with self._db.write() as conn:
            conn.execute(_DELETE_ONE, key)
            conn.execute(_INSERT, row)

    def list(self, limit: int) -> list[DeadLetter]:
        with self._db.read() as conn:
            rows = conn.execute(_OLDEST, {"limit": limit}).mappings().all()
        return [
            DeadLetter(
                handler=row["handler"],
                envelope=envelope_from_row(row),
                attempts=row["attempts"],
                error=row["error"],
                dead_lettered_at=row["dead_lettered_at"],
            )
            for row in rows
        ]

    def remove(self, handler: str, event_id: str) -> bool:
        with self._db.write() as conn:
            removed = conn.execute(_DELETE_ONE, {"k_handler": handler, "k_event_id": event_id})
            return bool(removed.rowcount)

    def purge(self) -> int:
        with self._db.write() as conn:
            return int(conn.execute(_PURGE).rowcount)

    def count(self) -> int:
        with self._db.read() as conn:
            return int(conn.execute(_COUNT).scalar_one())
