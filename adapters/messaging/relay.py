"""The outbox relay: moves committed outbox events to a delivery adapter.

Each pass claims the oldest unsent rows (`Outbox.relay_batch`: on PostgreSQL
`FOR UPDATE SKIP LOCKED`, so several relays share the work), hands them to
`deliver` (publish with confirms, or the in-process handlers) and marks them
sent only if `deliver` returned. A relay killed mid-batch leaves the rows
unsent; the next pass delivers them again (duplicates on the wire, absorbed by
the handlers' inbox).

Wake-up: a full batch loops at once; a busy pass (`gather_above` events or more)
waits `gather` seconds for the next batch to fill, wake-ups or not; otherwise the
relay sleeps, first briefly,
then twice as long each idle pass up to `max_idle` (adaptive poll), and
`wake()` (wired to the after-commit hook in-process) cuts the sleep short. When
delivery fails (broker down) it backs off, ignoring wake-ups, up to
`max_backoff`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from adapters.messaging import metrics
from core.domain.backoff import backoff
from core.domain.events import EventEnvelope
from core.ports.errors import DependencyUnavailable
from core.ports.messaging import Outbox

logger = logging.getLogger("orderly.messaging.relay")

Deliver = Callable[[list[EventEnvelope]], None]


class OutboxRelay:
    def __init__(
        self,
        outbox: Outbox,
        deliver: Deliver,
        batch_size: int = 500,
        min_idle: float = 0.01,
        max_idle: float = 1.0,
        max_backoff: float = 10.0,
        gather: float = 0.0,
        gather_above: int = 8,
    ) -> None:
        self._outbox = outbox
        self._deliver = deliver
        self._batch_size = batch_size
        self._min_idle = min_idle
        self._max_idle = max_idle
        self._max_backoff = max_backoff
        self._gather = gather
        self._gather_above = gather_above
        self._wake = threading.Event()
        self._stop = threading.Event()

    def wake(self, envelopes: list[EventEnvelope] | None = None) -> None:
        """New events were committed (after-commit hook signature)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def pass_once(self) -> int:
        """One batch; returns how many events were delivered and marked sent."""
        delivered = self._outbox.relay_batch(self._batch_size, self._deliver)
        if delivered:
            metrics.EVENTS_RELAYED.inc(delivered)
        return delivered

    def drain(self) -> int:
        """Deliver until the outbox is empty (tests, operators)."""
        total = 0
        while n := self.pass_once():
            total += n
        return total

    def run(self) -> None:
        """Relay until `stop()`; never raises for a delivery failure."""
        idle = self._min_idle
        failures = 0
        while not self._stop.is_set():
            self._wake.clear()  # a commit from here on wakes the next sleep
            try:
                delivered = self.pass_once()
            except Exception as exc:
                failures += 1
                delay = backoff(failures, 0.25, self._max_backoff)
                logger.warning(
                    "outbox relay: delivery failed (%s); events stay in the outbox, "
                    "retrying in %.2fs",
                    exc,
                    delay,
                    # A dependency that is down is expected: one line, no traceback.
                    exc_info=failures == 1 and not isinstance(exc, DependencyUnavailable),
                )
                self._stop.wait(delay)
                continue
            if failures:
                logger.info("outbox relay: delivering again after %d failed passes", failures)
                failures = 0
            if delivered:
                idle = self._min_idle
                if delivered >= self._batch_size:
                    continue
                if self._gather and delivered >= self._gather_above:
                    # Busy: let the next batch gather instead of waking per commit, so
                    # a pass's fixed cost (claim, mark sent, a unit of work per handler)
                    # is shared by more events. Idle or light load never waits.
                    self._stop.wait(self._gather)
                    continue
            else:
                idle = min(self._max_idle, idle * 2)
            self._wake.wait(idle)
