"""Delivery in a process of its own beside `orderly serve` on SQLite.

With in-process messaging on a SQLite file, `orderly serve` starts one child,
`python -m entrypoints.delivery_process`, which runs everything that delivers:
the outbox relay and the event handlers (payment, refunds, notifications, webhook
fan-out), the payment-timeout sweep and the webhook sender. The serving process
(or each of its workers) only answers HTTP.

Why (docs/decisions/0027-delivery-beside-serve-on-sqlite.md): the serving process
is bound by one core of Python, and the saga took about a fifth of it (the relay
and gateway threads). In a process of its own it runs on the machine's other core.
Its commits and the API's queue on a file lock across processes
(adapters/sql/process_lock.py), and it hears of new commits through SQLite's data
version (adapters/sql/commit_watcher.py).

The child stops on SIGTERM or SIGINT (finishing the batch in hand), and on its own
when `serve` is gone. `serve` restarts it if it dies; nothing is lost meanwhile:
the events wait in the outbox.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

from core.domain.backoff import backoff
from entrypoints.settings import Settings

logger = logging.getLogger("orderly.delivery")

# Set by `orderly serve` for the processes that serve HTTP: delivery runs apart.
APART_ENV = "ORDERLY_DELIVERY_APART"
MODULE = "entrypoints.delivery_process"
# A child that dies is replaced after 1 s, then 2, 4 ... up to 30 s while it keeps dying
# young (a configuration it cannot start with); one that ran a minute starts the count over.
RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
LIVED_LONG_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0


def runs_apart(settings: Settings) -> bool:
    """Whether `orderly serve` delivers in a process of its own: in-process messaging
    on a SQLite file. (memory:// cannot be shared; PostgreSQL's workers each relay,
    woken by LISTEN, as before.)"""
    return settings.delivery == "background" and settings.database_url.startswith("sqlite")


class DeliveryProcess:
    """The child as `serve` sees it: started, restarted if it dies, stopped."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # guards _child against a restart during stop
        self._child = self._spawn()
        self._watch = threading.Thread(
            target=self._restart_when_dead, name="orderly-delivery-watch", daemon=True
        )
        self._watch.start()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """SIGTERM, then SIGKILL after `timeout`: the batch in hand finishes, or its
        events stay in the outbox for the next start."""
        self._stopping.set()
        with self._lock:
            child = self._child
        if child.poll() is None:
            child.terminate()
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("delivery process %d did not stop in %.0fs", child.pid, timeout)
            child.kill()
            child.wait()
        self._watch.join(timeout)

    @staticmethod
    def _spawn() -> subprocess.Popen[bytes]:
        # The environment goes along: the same ORDERLY_* settings and metrics directory.
        return subprocess.Popen([sys.executable, "-m", MODULE])

    def _restart_when_dead(self) -> None:
        failures = 0
        while True:
            with self._lock:
                child = self._child
            started = time.monotonic()
            status = child.wait()
            if self._stopping.is_set():
                return
            failures = 1 if time.monotonic() - started >= LIVED_LONG_SECONDS else failures + 1
            delay = backoff(failures, RESTART_FIRST_SECONDS, RESTART_MAX_SECONDS)
            logger.error(
                "delivery process %d exited with status %d; starting another in %gs",
                child.pid,
                status,
                delay,
            )
            if self._stopping.wait(delay):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self._child = self._spawn()


def main() -> int:
    """The child: deliver until a signal arrives or the parent is gone."""
    from entrypoints.container import build_container
    from entrypoints.delivery import start_delivery
    from entrypoints.heap import settle_heap
    from entrypoints.logs import configure_logging
    from entrypoints.webhook_sender import sends_in_process, webhook_runner
    from entrypoints.worker import StopSignals

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    signals = StopSignals().install()
    parent = os.getppid()
    container = build_container(settings)
    delivery = start_delivery(container, apart=True)
    runner = webhook_runner(container).start() if sends_in_process(container) else None
    settle_heap()
    logger.info("delivery process started beside serve (pid %d)", parent)
    while signals.received is None and os.getppid() == parent:
        time.sleep(0.2)
    for started in (runner, delivery):  # the sender first, as it was started last
        if started is not None:
            started.stop()
    container.database().dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
