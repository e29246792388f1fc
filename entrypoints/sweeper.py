"""Periodic housekeeping: the payment-timeout sweep and the idempotency-key purge.

`orderly worker` runs it; with in-process messaging `orderly serve` is the
worker too and runs it in a background thread. Both jobs are safe to run in
several processes at once (each order is re-checked under its lock).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger("orderly.sweeper")


class Sweeper:
    def __init__(
        self,
        expire_orders: Callable[[], int],
        purge_idempotency: Callable[[], int],
        interval_seconds: float,
        stop: threading.Event | None = None,
    ) -> None:
        self._expire = expire_orders
        self._purge = purge_idempotency
        self.interval = interval_seconds
        self._stop = stop or threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        for name, job in (("payment-timeout sweep", self._expire), ("key purge", self._purge)):
            try:
                done = job()
            except Exception:
                # Logged, not raised: the next interval retries, the process stays up.
                logger.exception("%s failed; retrying next interval", name)
                continue
            if done:
                logger.info("%s: %d", name, done)

    def run(self) -> None:
        """Until stopped: wait an interval, then run both jobs."""
        while not self._stop.wait(self.interval):
            self.run_once()

    def start(self) -> Sweeper:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="orderly-sweep", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
