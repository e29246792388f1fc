"""In-process delivery: the relay hands outbox events straight to the handlers.

`SynchronousRelay` drains in the committing thread (tests, demos on memory://).
`BackgroundRelay` drains in a daemon thread woken by each commit and by a poll,
so `orderly serve` completes the saga with no broker, durably (the outbox is in
the database, so events committed before a crash are delivered after restart).
"""

from __future__ import annotations

import logging
import threading

from adapters.messaging.dispatch import HandlerDispatcher
from core.domain.events import EventEnvelope
from core.ports.messaging import Outbox

logger = logging.getLogger("orderly.messaging")


class SynchronousRelay:
    def __init__(self, outbox: Outbox, dispatcher: HandlerDispatcher, batch: int = 100) -> None:
        self._outbox = outbox
        self._dispatcher = dispatcher
        self._batch = batch
        self._local = threading.local()

    def drain(self) -> int:
        """Deliver until the outbox is empty. Re-entrant calls (a handler's own commit)
        return at once: the outer loop picks their events up."""
        if getattr(self._local, "draining", False):
            return 0
        self._local.draining = True
        delivered = 0
        try:
            while True:
                n = self._outbox.relay_batch(self._batch, self._dispatcher.deliver)
                if n == 0:
                    return delivered
                delivered += n
        finally:
            self._local.draining = False

    def on_commit(self, envelopes: list[EventEnvelope]) -> None:
        try:
            self.drain()
        except Exception:
            # The events stay in the outbox and are delivered by the next drain.
            logger.exception("in-process delivery failed; events stay in the outbox")
