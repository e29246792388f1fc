"""In-process delivery: the relay hands outbox events straight to the handlers.

`SynchronousRelay` drains in the committing thread (tests, demos on memory://).
`BackgroundRelay` drains in a daemon thread woken by each commit and by a poll,
so `orderly serve` completes the saga with no broker, durably (the outbox is in
the database, so events committed before a crash are delivered after restart).

A delivery that keeps failing is retried in place, then parked in the dead-letter
store (HandlerDispatcher with a DeadLetterStore), so it never holds its batch in
the outbox; `orderly dlq` lists, replays and purges it. Only an unreachable
dependency (database, the gateway's open circuit) keeps the batch in the outbox,
retried with backoff, without using up any attempt.
"""

from __future__ import annotations

import logging
import threading

from adapters.messaging.dispatch import HandlerDispatcher
from adapters.messaging.metrics import EVENTS_RELAYED
from adapters.messaging.relay import OutboxRelay
from core.domain.events import EventEnvelope
from core.ports.messaging import Outbox

logger = logging.getLogger("orderly.messaging")

# Events one handler's unit of work takes in the serving process (HandlerDispatcher's
# max_batch). A relay claims up to ORDERLY_RELAY_BATCH_SIZE (500) at once; the charge
# of 500 orders in one SQLite transaction held the write lock for up to 35-40 ms, and
# every placement queued behind it (POST p99; benchmarks/README.md, session 13). At
# 50 the relay's fixed cost per unit of work left it behind during a busy round.
IN_PROCESS_HANDLER_BATCH = 100


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
                EVENTS_RELAYED.inc(n)
                delivered += n
        finally:
            self._local.draining = False

    def on_commit(self, envelopes: list[EventEnvelope]) -> None:
        try:
            self.drain()
        except Exception:
            # The events stay in the outbox and are delivered by the next drain.
            logger.exception("in-process delivery failed; events stay in the outbox")


# Under load the relay shares the serving process's GIL with the requests: waking on
# every commit made it run many small passes, each paying its fixed cost. A busy pass
# waits this long before the next one instead (benchmarks/README.md, issue 9): at
# 0.1 s placement ran about 15 % faster than at 0.025 s, and the backlog a busy
# minute leaves is still paid off within two seconds. Light load never waits.
GATHER_SECONDS = 0.1


class BackgroundRelay:
    """The relay and the handlers in a daemon thread of this process."""

    def __init__(
        self,
        outbox: Outbox,
        dispatcher: HandlerDispatcher,
        batch_size: int = 100,
        max_idle: float = 2.0,
        max_backoff: float = 30.0,
        gather: float = GATHER_SECONDS,
    ) -> None:
        # Commits in this process wake it; the poll covers other processes' commits.
        self.relay = OutboxRelay(
            outbox,
            dispatcher.deliver,
            batch_size=batch_size,
            max_idle=max_idle,
            max_backoff=max_backoff,
            gather=gather,
        )
        self._thread: threading.Thread | None = None

    def on_commit(self, envelopes: list[EventEnvelope]) -> None:
        self.relay.wake(envelopes)

    def start(self) -> BackgroundRelay:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self.relay.run, name="orderly-relay", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in hand (its events are marked sent or stay unsent), then stop."""
        self.relay.stop()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("relay thread did not stop within %.0fs", timeout)
            self._thread = None
