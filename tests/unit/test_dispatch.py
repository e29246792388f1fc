"""The dispatcher retries on the core's generic transient signal, from whichever port."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.messaging.dispatch import HandlerDispatcher
from core.domain.events import EventEnvelope
from core.ports.errors import TransientError
from core.ports.messaging import EventHandler
from core.ports.payments import TransientPaymentError

ENVELOPE = EventEnvelope("event-1", "OrderPlaced", "order-1", datetime.now(UTC), "c-1", 1, {})


class StoreBusy(TransientError):
    """A transient error no payment port raises: the dispatcher must not care which."""


def _failing(errors: list[Exception]) -> tuple[EventHandler, list[str]]:
    runs: list[str] = []

    def handle(envelope: EventEnvelope) -> None:
        runs.append(envelope.event_id)
        if errors:
            raise errors.pop(0)

    return EventHandler("test.handler", "OrderPlaced", handle), runs


@pytest.mark.parametrize("error", [StoreBusy("busy"), TransientPaymentError("gateway timeout")])
def test_a_transient_error_is_retried_in_place_with_backoff(error: Exception) -> None:
    handler, runs = _failing([error, error])
    sleeps: list[float] = []
    HandlerDispatcher([handler], attempts=5, sleep=sleeps.append).run(handler, ENVELOPE)
    assert runs == ["event-1"] * 3
    assert sleeps == [0.05, 0.1]


def test_the_last_transient_failure_and_any_other_error_propagate() -> None:
    handler, runs = _failing([StoreBusy("busy")] * 3)
    sleeps: list[float] = []
    dispatcher = HandlerDispatcher([handler], attempts=3, sleep=sleeps.append)
    with pytest.raises(StoreBusy):
        dispatcher.run(handler, ENVELOPE)
    assert len(runs) == 3 and len(sleeps) == 2

    handler, runs = _failing([ValueError("a bug, not a hiccup")])
    with pytest.raises(ValueError):
        HandlerDispatcher([handler], attempts=3, sleep=sleeps.append).run(handler, ENVELOPE)
    assert runs == ["event-1"], "not retried: only a transient error is"
