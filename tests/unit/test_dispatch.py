"""The dispatcher retries on the core's generic transient signal, from whichever port."""

from __future__ import annotations

from collections.abc import Sequence
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


def _envelopes(n: int, kind: str = "OrderPlaced") -> list[EventEnvelope]:
    now = datetime.now(UTC)
    return [EventEnvelope(f"e-{i}", kind, f"o-{i}", now, "c", 1, {}) for i in range(n)]


def test_max_batch_hands_a_handler_its_events_in_slices_in_order() -> None:
    batches: list[list[str]] = []
    handler = EventHandler(
        "test.batched",
        "OrderPlaced",
        lambda e: batches.append([e.event_id]),
        handle_batch=lambda es: batches.append([e.event_id for e in es]),
    )
    events = _envelopes(250) + _envelopes(3, "OrderPaid")  # not this handler's
    HandlerDispatcher([handler], max_batch=100).deliver(events)
    assert [len(b) for b in batches] == [100, 100, 50]
    assert [i for b in batches for i in b] == [f"e-{i}" for i in range(250)]

    batches.clear()
    HandlerDispatcher([handler]).deliver(events)
    assert [len(b) for b in batches] == [250], "no cap: one unit of work for the claim"


def test_a_failing_slice_is_retried_alone_and_the_others_are_kept() -> None:
    handled: list[str] = []

    def handle_batch(envelopes: Sequence[EventEnvelope]) -> None:
        if any(e.event_id == "e-150" for e in envelopes):
            raise ValueError("one bad event spoils its slice")
        handled.extend(e.event_id for e in envelopes)

    def handle(envelope: EventEnvelope) -> None:
        if envelope.event_id == "e-150":
            raise ValueError("still bad")
        handled.append(envelope.event_id)

    handler = EventHandler("test.batched", "OrderPlaced", handle, handle_batch=handle_batch)
    dispatcher = HandlerDispatcher([handler], attempts=1, max_batch=100)
    with pytest.raises(ValueError, match="still bad"):
        dispatcher.deliver(_envelopes(250))
    # The first slice committed; the second was retried one by one around the bad
    # event; the third never ran (the relay keeps the claim and tries again).
    assert handled == [f"e-{i}" for i in range(200) if i != 150]


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        HandlerDispatcher([], max_batch=0)
