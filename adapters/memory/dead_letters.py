"""In-process delivery's dead letters, in the memory store."""

from __future__ import annotations

from adapters.memory.store import MemoryStore
from core.ports.messaging import DeadLetter


class MemoryDeadLetterStore:
    def __init__(self, store: MemoryStore) -> None:
        self._s = store

    def add(self, letter: DeadLetter) -> None:
        with self._s.lock:
            self._s.dead_letters[(letter.handler, letter.envelope.event_id)] = letter

    def list(self, limit: int) -> list[DeadLetter]:
        with self._s.lock:
            letters = sorted(
                self._s.dead_letters.values(),
                key=lambda d: (d.dead_lettered_at, d.handler, d.envelope.event_id),
            )
        return letters[:limit]

    def remove(self, handler: str, event_id: str) -> bool:
        with self._s.lock:
            return self._s.dead_letters.pop((handler, event_id), None) is not None

    def purge(self) -> int:
        with self._s.lock:
            count = len(self._s.dead_letters)
            self._s.dead_letters.clear()
            return count

    def count(self) -> int:
        with self._s.lock:
            return len(self._s.dead_letters)
