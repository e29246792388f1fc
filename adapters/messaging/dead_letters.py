"""Operators' view of dead letters, the same in both messaging modes.

`orderly dlq list | replay | purge` and the dead-letter gauge work through the
`DeadLetters` interface: `DeadLetterQueue` (adapters/messaging/rabbitmq) for
RabbitMQ, `StoredDeadLetters` here for in-process delivery, whose dead letters
live in the database (or the memory store). Both describe a dead letter with
the same fields, so the commands print the same output in either mode; the
`queue` of an in-process dead letter is the name its handler's queue has in
RabbitMQ (`orderly.<handler>`).

In-process replay runs the handler again right here (`orderly dlq replay` is a
process of its own, and there is no queue to send the event back to): a
delivery that succeeds leaves the table, one that fails every attempt again is
parked anew with its new attempt count and error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from adapters.messaging.dispatch import HandlerDispatcher
from adapters.messaging.rabbitmq.topology import QUEUE_PREFIX
from core.ports.messaging import DeadLetter, DeadLetterStore


@dataclass(frozen=True)
class DeadLetterSummary:
    event_id: str
    event_type: str
    queue: str
    attempts: int
    error: str
    dead_lettered_at: str
    correlation_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def of(letter: DeadLetter) -> DeadLetterSummary:
        return DeadLetterSummary(
            event_id=letter.envelope.event_id,
            event_type=letter.envelope.type,
            queue=QUEUE_PREFIX + letter.handler,
            attempts=letter.attempts,
            error=letter.error,
            dead_lettered_at=letter.dead_lettered_at.isoformat(),
            correlation_id=letter.envelope.correlation_id,
        )


class DeadLetters(Protocol):
    def count(self) -> int: ...

    def peek(self, limit: int = 100) -> list[DeadLetterSummary]: ...

    def replay(
        self, event_id: str | None = None, limit: int | None = None
    ) -> list[DeadLetterSummary]: ...

    def purge(self) -> int: ...


class StoredDeadLetters:
    """In-process messaging's dead letters (table `dead_letters`, or the memory store)."""

    def __init__(self, store: DeadLetterStore, dispatcher: HandlerDispatcher) -> None:
        self._store = store
        self._dispatcher = dispatcher

    def count(self) -> int:
        return self._store.count()

    def peek(self, limit: int = 100) -> list[DeadLetterSummary]:
        return [DeadLetterSummary.of(letter) for letter in self._store.list(limit)]

    def replay(
        self, event_id: str | None = None, limit: int | None = None
    ) -> list[DeadLetterSummary]:
        """Deliver dead letters to their handler again, oldest first."""
        replayed: list[DeadLetterSummary] = []
        for letter in self._store.list(self._store.count()):
            if limit is not None and len(replayed) >= limit:
                break
            if event_id is not None and letter.envelope.event_id != event_id:
                continue
            handler = self._dispatcher.handler(letter.handler)
            if handler is None:
                continue  # a handler this version no longer has: left for an operator
            if self._dispatcher.run_or_park(handler, letter.envelope):
                self._store.remove(letter.handler, letter.envelope.event_id)
            replayed.append(DeadLetterSummary.of(letter))
        return replayed

    def purge(self) -> int:
        return self._store.purge()
