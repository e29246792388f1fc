"""The webhook sender thread: runs `DeliverWebhooks` passes, woken by new deliveries
and by a poll (for retries coming due and other processes' deliveries)."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from core.domain.backoff import backoff

logger = logging.getLogger("orderly.webhooks")


class DeliveryPass(Protocol):
    """What the runner drives: one sending pass (`core.use_cases.webhook_delivery.DeliverWebhooks`,
    handed in by the composition root; adapters do not import use cases)."""

    def run_once(self, limit: int = 100, pool: ThreadPoolExecutor | None = None) -> int: ...


class WebhookRunner:
    def __init__(
        self,
        deliver: DeliveryPass,
        poll_seconds: float = 0.5,
        batch_size: int = 100,
        concurrency: int = 16,
        stop: threading.Event | None = None,
    ) -> None:
        self._deliver = deliver
        self._poll = poll_seconds
        self._batch = batch_size
        self._concurrency = concurrency
        self._stop = stop or threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def run(self) -> None:
        """Until stopped: send what is due; idle, wait for a wake-up or the poll."""
        with ThreadPoolExecutor(self._concurrency, thread_name_prefix="orderly-webhook") as pool:
            failures = 0
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    sent = self._deliver.run_once(self._batch, pool)
                    failures = 0
                except Exception:
                    # Storage down: back off (capped), nothing is lost (deliveries stay).
                    failures += 1
                    logger.warning("webhook sender pass failed", exc_info=True)
                    sent = 0
                    self._stop.wait(backoff(failures, 2 * self._poll, 30.0))
                    continue
                if sent == 0:
                    self._wake.wait(self._poll)

    def start(self) -> WebhookRunner:
        if self._thread is None:
            self._thread = threading.Thread(target=self.run, name="orderly-webhooks", daemon=True)
            self._thread.start()
        return self

    def thread(self) -> threading.Thread:
        return threading.Thread(target=self.run, name="orderly-webhooks", daemon=True)

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the attempts in flight (their outcomes are recorded), then stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
