"""Event delivery: how committed outbox events reach the handlers, and where the
deliveries that kept failing are parked (dead letters)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.domain.events import EventEnvelope


class BatchFailed(Exception):
    """Some deliveries of a batch failed (by event id); the others' effects committed."""

    def __init__(self, failures: dict[str, Exception]) -> None:
        super().__init__(f"{len(failures)} deliveries of the batch failed")
        self.failures = failures


@dataclass(frozen=True)
class EventHandler:
    """A named subscriber: `name` is stable (it names the inbox rows and the queue).

    `wanted`, when given, says which events of a batch the handler has any use for
    (their ids), asked when they are published. A delivery adapter may leave the
    others out, so it must answer for every event committed before the call; the
    handler still ignores any event it does not want, so an adapter may also skip
    the question."""

    name: str
    event_type: str
    handle: Callable[[EventEnvelope], None]
    handle_batch: Callable[[Sequence[EventEnvelope]], None] | None = None
    wanted: Callable[[Sequence[EventEnvelope]], Collection[str]] | None = None


class Outbox(Protocol):
    """The relay's view of the outbox."""

    def relay_batch(self, limit: int, deliver: Callable[[list[EventEnvelope]], None]) -> int:
        """Claim the oldest unsent events (concurrent relays skip claimed ones), hand
        them to `deliver` in order, and mark them sent only if `deliver` returns.

        Returns how many were delivered; 0 means the outbox is drained.
        """
        ...


@dataclass(frozen=True)
class DeadLetter:
    """One handler's delivery of one event that failed every attempt."""

    handler: str
    envelope: EventEnvelope
    attempts: int
    error: str
    dead_lettered_at: datetime


class DeadLetterStore(Protocol):
    """Parked deliveries of in-process messaging (RabbitMQ has its own queue)."""

    def add(self, letter: DeadLetter) -> None:
        """Park a delivery; parking the same handler and event again replaces it."""
        ...

    def list(self, limit: int) -> list[DeadLetter]:
        """The oldest `limit` dead letters, oldest first."""
        ...

    def remove(self, handler: str, event_id: str) -> bool:
        """Take one out (replayed); False if it was not there."""
        ...

    def purge(self) -> int:
        """Delete every dead letter; returns how many there were."""
        ...

    def count(self) -> int: ...
