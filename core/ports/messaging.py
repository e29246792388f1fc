"""Event delivery: how committed outbox events reach the handlers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from core.domain.events import EventEnvelope


class Outbox(Protocol):
    """The relay's view of the outbox."""

    def relay_batch(self, limit: int, deliver: Callable[[list[EventEnvelope]], None]) -> int:
        """Claim the oldest unsent events (concurrent relays skip claimed ones), hand
        them to `deliver` in order, and mark them sent only if `deliver` returns.

        Returns how many were delivered; 0 means the outbox is drained.
        """
        ...


class EventPublisher(Protocol):
    def publish(self, envelopes: Sequence[EventEnvelope]) -> None:
        """Deliver to every subscriber; return only once delivery is confirmed."""
        ...
