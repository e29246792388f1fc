"""Route events to every handler subscribed to their type: in batches, retrying
transient failures, and (in-process) parking deliveries that keep failing.

A batch of one handler's deliveries goes to the handler's `handle_batch` (one
unit of work for all of them). If the batch fails, the deliveries it did not
commit are retried one by one, so a failing event is isolated and the others'
effects happen once (the inbox absorbs any repeat).

`DependencyUnavailable` (database down, the gateway's circuit open) is never a
failed attempt: it propagates, and the delivery adapter keeps the work for
later (the outbox batch stays unsent; RabbitMQ messages are requeued).

Events a handler causes carry the correlation id of the event it handles: every
run below sets it (core/ports/correlation.py) around the handler; a batch, handled
in one unit of work, carries its first event's.

In-process (`dead_letters` given): `deliver` retries a failing delivery in
place with backoff up to `attempts` runs, then parks it in the dead-letter
store and goes on: a poison event never blocks the events behind it.

`max_batch` caps a handler's unit of work: a relay claim of 500 events is handed
to each handler in slices of at most that many. In-process delivery on SQLite
sets it (decision 0025): there each slice's write transaction holds the one
writer that placements wait for, so the cap bounds how long a request waits
behind the saga, while the claim and its marking stay shared by the whole claim.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from adapters.messaging import metrics
from adapters.tracing.work import handling, handling_batch
from core.domain.backoff import backoff
from core.domain.events import EventEnvelope
from core.ports.correlation import correlation
from core.ports.errors import DependencyUnavailable, TransientError
from core.ports.messaging import BatchFailed, DeadLetter, DeadLetterStore, EventHandler

logger = logging.getLogger("orderly.messaging")

Single = Callable[[EventHandler, EventEnvelope], None]


def describe(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"


class HandlerDispatcher:
    def __init__(
        self,
        handlers: Iterable[EventHandler],
        attempts: int = 5,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        dead_letters: DeadLetterStore | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_delay: float = 2.0,
        max_batch: int | None = None,
    ) -> None:
        if max_batch is not None and max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.handlers = list(handlers)
        self.max_batch = max_batch
        for handler in self.handlers:  # export zeros from the start, not only after a first event
            metrics.MESSAGES_HANDLED.labels(handler.name)
            metrics.MESSAGES_RETRIED.labels(handler.name)
            metrics.MESSAGES_DEAD_LETTERED.labels(handler.name)
        self._attempts = attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._dead_letters = dead_letters
        self._now = now

    @property
    def attempts(self) -> int:
        return self._attempts

    def for_type(self, event_type: str) -> list[EventHandler]:
        return [h for h in self.handlers if h.event_type == event_type]

    def handler(self, name: str) -> EventHandler | None:
        return next((h for h in self.handlers if h.name == name), None)

    def _delay(self, attempt: int) -> float:
        return backoff(attempt, self._base_delay, self._max_delay)

    def run(self, handler: EventHandler, envelope: EventEnvelope) -> None:
        """Run one handler, retrying transient errors with exponential backoff."""
        # Log context and, tracing on, its span; the events it causes carry its correlation.
        with handling(envelope, handler.name), correlation(envelope.correlation_id):
            self._run(handler, envelope)

    def _run(self, handler: EventHandler, envelope: EventEnvelope) -> None:
        failed = self._attempt_runs(handler, envelope, lambda exc: isinstance(exc, TransientError))
        if failed is not None:
            raise failed[0]

    def _attempt_runs(
        self,
        handler: EventHandler,
        envelope: EventEnvelope,
        retryable: Callable[[Exception], bool],
        scoped: bool = False,
    ) -> tuple[Exception, int] | None:
        """Up to `attempts` runs with backoff between them: None once one succeeds, else
        the failure that ended them (the last, or one `retryable` refuses) and its attempt
        number. DependencyUnavailable propagates. `scoped` runs each attempt in its own log
        context and span (a caller that has none around the whole)."""
        for attempt in range(1, self._attempts + 1):
            try:
                if scoped:
                    with handling(envelope, handler.name), correlation(envelope.correlation_id):
                        handler.handle(envelope)
                else:
                    handler.handle(envelope)
            except DependencyUnavailable:
                raise
            except Exception as exc:
                if attempt == self._attempts or not retryable(exc):
                    return exc, attempt
                metrics.MESSAGES_RETRIED.labels(handler.name).inc()
                delay = self._delay(attempt)
                logger.warning(
                    "%s failed on event %s (attempt %d of %d), retrying in %.2fs: %s",
                    handler.name,
                    envelope.event_id,
                    attempt,
                    self._attempts,
                    delay,
                    describe(exc),
                )
                self._sleep(delay)
            else:
                metrics.MESSAGES_HANDLED.labels(handler.name).inc()
                return None
        return None

    def run_batch(
        self,
        handler: EventHandler,
        envelopes: Sequence[EventEnvelope],
        single: Single | None = None,
    ) -> dict[str, Exception]:
        """Handle a batch of one handler's deliveries; returns the failures by event id
        (every other delivery's effect committed). DependencyUnavailable propagates."""
        single = single or self.run
        retry: Sequence[EventEnvelope] = envelopes
        if len(envelopes) > 1 and handler.handle_batch is not None:
            try:
                with (
                    handling_batch(envelopes, handler.name),
                    correlation(envelopes[0].correlation_id),
                ):
                    handler.handle_batch(envelopes)
                metrics.MESSAGES_HANDLED.labels(handler.name).inc(len(envelopes))
                return {}
            except DependencyUnavailable:
                raise
            except BatchFailed as failed:
                retry = [e for e in envelopes if e.event_id in failed.failures]
                metrics.MESSAGES_HANDLED.labels(handler.name).inc(len(envelopes) - len(retry))
            except Exception as exc:  # the batch's unit of work rolled back: one by one
                logger.info(
                    "batch of %d for %s failed (%s); handling them one by one",
                    len(envelopes),
                    handler.name,
                    describe(exc),
                )
        failures: dict[str, Exception] = {}
        for envelope in retry:
            try:
                single(handler, envelope)
            except DependencyUnavailable:
                raise
            except Exception as exc:
                failures[envelope.event_id] = exc
        return failures

    def deliver(self, envelopes: list[EventEnvelope]) -> None:
        """Every handler of every event, each handler's share as one batch.

        With a dead-letter store, returns once every delivery succeeded or was parked;
        without one, raises if a delivery still fails after its retries (the relay then
        leaves the batch in the outbox; handlers dedupe the replay). Raises
        DependencyUnavailable either way when storage or the gateway is out of reach.
        """
        for handler in self.handlers:
            group = [e for e in envelopes if e.type == handler.event_type]
            if not group:
                continue
            size = self.max_batch or len(group)
            for start in range(0, len(group), size):
                part = group[start : start + size]
                if self._dead_letters is None:
                    failures = self.run_batch(handler, part)
                    if failures:
                        raise next(iter(failures.values()))
                else:
                    self.run_batch(handler, part, self._park_on_failure)

    def _park_on_failure(self, handler: EventHandler, envelope: EventEnvelope) -> None:
        self.run_or_park(handler, envelope)

    def run_or_park(self, handler: EventHandler, envelope: EventEnvelope) -> bool:
        """Up to `attempts` runs with backoff, then the delivery is parked. True if it was
        handled, False if parked; never raises for a handler failure (DependencyUnavailable
        propagates)."""
        assert self._dead_letters is not None, "no dead-letter store to park deliveries in"
        failed = self._attempt_runs(handler, envelope, lambda _: True, scoped=True)
        if failed is None:
            return True
        exc, attempt = failed
        logger.error(
            "%s failed on event %s after %d attempts, dead-lettered: %s",
            handler.name,
            envelope.event_id,
            attempt,
            describe(exc),
            exc_info=exc,
        )
        self._dead_letters.add(
            DeadLetter(handler.name, envelope, attempt, describe(exc), self._now())
        )
        metrics.MESSAGES_DEAD_LETTERED.labels(handler.name).inc()
        return False
