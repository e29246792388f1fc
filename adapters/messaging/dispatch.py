"""Route an event to every handler subscribed to its type, retrying transient failures."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from adapters.messaging import metrics
from adapters.tracing.work import handling
from core.domain.events import EventEnvelope
from core.ports.payments import TransientPaymentError
from core.use_cases.handlers import EventHandler

logger = logging.getLogger("orderly.messaging")


class HandlerDispatcher:
    def __init__(
        self,
        handlers: Iterable[EventHandler],
        attempts: int = 5,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.handlers = list(handlers)
        for handler in self.handlers:  # export zeros from the start, not only after a first event
            metrics.MESSAGES_HANDLED.labels(handler.name)
            metrics.MESSAGES_RETRIED.labels(handler.name)
            metrics.MESSAGES_DEAD_LETTERED.labels(handler.name)
        self._attempts = attempts
        self._base_delay = base_delay
        self._sleep = sleep

    def for_type(self, event_type: str) -> list[EventHandler]:
        return [h for h in self.handlers if h.event_type == event_type]

    def run(self, handler: EventHandler, envelope: EventEnvelope) -> None:
        """Run one handler, retrying transient errors with exponential backoff."""
        with handling(envelope, handler.name):  # log context and, tracing on, its span
            self._run(handler, envelope)

    def _run(self, handler: EventHandler, envelope: EventEnvelope) -> None:
        for attempt in range(1, self._attempts + 1):
            try:
                handler.handle(envelope)
                metrics.MESSAGES_HANDLED.labels(handler.name).inc()
                return
            except TransientPaymentError:
                if attempt == self._attempts:
                    raise
                metrics.MESSAGES_RETRIED.labels(handler.name).inc()
                delay = self._base_delay * 2 ** (attempt - 1)
                logger.warning(
                    "transient failure in %s for %s, retry %d in %.2fs",
                    handler.name,
                    envelope.event_id,
                    attempt,
                    delay,
                )
                self._sleep(delay)

    def deliver(self, envelopes: list[EventEnvelope]) -> None:
        """Every handler of every event; raises if any handler still fails after retries
        (the relay then leaves the batch in the outbox; handlers dedupe the replay)."""
        for envelope in envelopes:
            for handler in self.for_type(envelope.type):
                self.run(handler, envelope)
