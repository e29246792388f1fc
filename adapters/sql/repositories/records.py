"""What the unit of work records beside the aggregates: idempotency keys (the replayable
responses of keyed requests) and the inbox (events each handler has processed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from adapters.sql import mapping, staged
from adapters.sql.bulk import execute_many
from adapters.sql.prepared import select_rows
from adapters.sql.repositories.base import on_duplicate
from adapters.sql.repositories.statements import (
    IDEMPOTENCY_GET,
    IDEMPOTENCY_INSERT,
    IDEMPOTENCY_PURGE,
    INBOX_INSERT,
    INBOX_SEEN_MANY,
)
from adapters.sql.repositories.write_queue import WriteQueue
from core.domain.idempotency import IdempotencyRecord
from core.ports.errors import ConcurrencyConflict, DuplicateIdempotencyKey
from core.ports.system import Clock


class SqlIdempotencyRepository:
    def __init__(self, conn: Connection, queue: WriteQueue | None = None) -> None:
        self._conn = conn
        self._queue = queue

    def get(self, principal_id: str, key: str) -> IdempotencyRecord | None:
        stage = self._queue.stage if self._queue is not None else None
        if stage is not None:
            # A record an earlier member of the write group staged is not sent yet.
            row = stage.idempotency.get((principal_id, key))
            if row is not None:
                return mapping.idempotency_from_row(row)
        rows = select_rows(
            self._conn,
            IDEMPOTENCY_GET,
            {"principal_id": principal_id, "key": key},
            send_staged=False,  # staged records were looked up above
        )
        return mapping.idempotency_from_row(rows[0]) if rows else None

    def add(self, record: IdempotencyRecord) -> None:
        queue = self._queue
        if queue is not None and queue.stage is not None:
            # In a write group: the key is free unless an earlier member staged it (the
            # group holds the write lock, so nothing else can store it meanwhile).
            if (record.principal_id, record.key) in queue.stage.idempotency:
                raise DuplicateIdempotencyKey(record.key)
            queue.put_rows(
                WriteQueue.IDEMPOTENCY, IDEMPOTENCY_INSERT, [mapping.idempotency_values(record)]
            )
            return
        # The primary key decides between concurrent requests with the same key: the
        # loser's insert waits for the winner's commit (PostgreSQL) or its write lock
        # (SQLite), then fails here, and the use case replays the winner's response.
        on_duplicate(
            lambda: DuplicateIdempotencyKey(record.key),
            execute_many,
            self._conn,
            IDEMPOTENCY_INSERT,
            [mapping.idempotency_values(record)],
        )

    def purge_older_than(self, cutoff: datetime) -> int:
        staged.send_staged()
        return int(self._conn.execute(IDEMPOTENCY_PURGE, {"cutoff": cutoff}).rowcount)


class SqlInbox:
    def __init__(self, conn: Connection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    def seen(self, handler: str, event_id: str) -> bool:
        return bool(self.seen_many(handler, [event_id]))

    def add(self, handler: str, event_id: str) -> None:
        on_duplicate(
            lambda: ConcurrencyConflict(f"{handler} already processed {event_id}"),
            execute_many,
            self._conn,
            INBOX_INSERT,
            [{"handler": handler, "event_id": event_id, "processed_at": self._clock.now()}],
        )

    def seen_many(self, handler: str, event_ids: Sequence[str]) -> set[str]:
        if not event_ids:
            return set()
        rows = select_rows(
            self._conn, INBOX_SEEN_MANY, {"handler": handler, "event_ids": list(event_ids)}
        )
        return {row["event_id"] for row in rows}

    def add_many(self, handler: str, event_ids: Sequence[str]) -> None:
        if not event_ids:
            return
        now = self._clock.now()
        rows = [{"handler": handler, "event_id": e, "processed_at": now} for e in event_ids]
        on_duplicate(
            lambda: ConcurrencyConflict(f"{handler} already processed some events"),
            execute_many,
            self._conn,
            INBOX_INSERT,
            rows,
        )
