"""The inbox: each handler records the event ids it has handled in the same unit of
work as its effect, so a redelivered event has no second effect (docs/delivery.md)."""

from __future__ import annotations

from collections.abc import Sequence

from core.domain.events import EventEnvelope
from core.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from core.use_cases.support import with_retries


def unique_events(envelopes: Sequence[EventEnvelope]) -> list[EventEnvelope]:
    """A redelivered duplicate in the same batch is handled once."""
    seen: set[str] = set()
    unique = []
    for envelope in envelopes:
        if envelope.event_id not in seen:
            seen.add(envelope.event_id)
            unique.append(envelope)
    return unique


class InboxHandler:
    """A handler whose effect fits in its unit of work: a batch is all or nothing."""

    name = ""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def __call__(self, envelope: EventEnvelope) -> None:
        self.handle_batch([envelope])

    def handle_batch(self, envelopes: Sequence[EventEnvelope]) -> None:
        batch = unique_events(envelopes)
        if not batch:
            return

        def attempt() -> None:
            with self._uow() as uow:
                done = uow.inbox.seen_many(self.name, [e.event_id for e in batch])
                todo = [e for e in batch if e.event_id not in done]
                for envelope in todo:
                    self._handle(uow, envelope)
                uow.inbox.add_many(self.name, [e.event_id for e in todo])
                uow.commit()

        with_retries(attempt)

    def _handle(self, uow: UnitOfWork, envelope: EventEnvelope) -> None:
        raise NotImplementedError
