"""The relay's side of the in-memory outbox."""

from __future__ import annotations

from collections.abc import Callable

from adapters.memory.store import MemoryStore
from core.domain.events import EventEnvelope


class MemoryOutbox:
    def __init__(self, store: MemoryStore) -> None:
        self._s = store

    def relay_batch(self, limit: int, deliver: Callable[[list[EventEnvelope]], None]) -> int:
        with self._s.lock:
            batch = [r for r in self._s.outbox if not r.sent and not r.claimed][:limit]
            for row in batch:
                row.claimed = True
        if not batch:
            return 0
        try:
            # Delivery runs outside the store lock: handlers open their own units of work.
            deliver([r.envelope for r in batch])
        except BaseException:
            with self._s.lock:
                for row in batch:
                    row.claimed = False
            raise
        with self._s.lock:
            for row in batch:
                row.sent = True
                row.claimed = False
        return len(batch)
