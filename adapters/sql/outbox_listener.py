"""Wake relays promptly on PostgreSQL: LISTEN for the NOTIFY that the outbox
table's trigger sends for every statement inserting rows (inside its transaction,
so it is delivered only on commit; outbox_channel.py).

A relay in another process than the committer (`orderly relay`, or one of
several `orderly serve`) would otherwise find new rows only at its next poll.
The listener is an accelerator, not a guarantee: while it is disconnected the
relay's adaptive poll still finds every row.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from adapters.sql.outbox_channel import CHANNEL
from adapters.sql.wake_thread import WakeThread
from core.domain.backoff import backoff

logger = logging.getLogger("orderly.sql.outbox_listener")

__all__ = ["CHANNEL", "OutboxListener", "libpq_url"]


def libpq_url(sqlalchemy_url: str) -> str:
    """postgresql+psycopg://... -> postgresql://... (what psycopg.connect takes)."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class OutboxListener(WakeThread):
    thread_name = "orderly-outbox-listener"

    def __init__(
        self,
        sqlalchemy_url: str,
        on_notify: Callable[[], None],
        poll_seconds: float = 1.0,
        max_backoff: float = 10.0,
    ) -> None:
        super().__init__()
        self._conninfo = libpq_url(sqlalchemy_url)
        self._on_notify = on_notify
        self._poll = poll_seconds
        self._max_backoff = max_backoff
        self.listening = threading.Event()  # set while LISTEN is active (for tests)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    failures = 0
                    # The first wake covers anything committed while we were not listening.
                    self._on_notify()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=self._poll, stop_after=1):
                            self._on_notify()
            except psycopg.Error as exc:
                self.listening.clear()
                failures += 1
                delay = backoff(failures, 0.5, self._max_backoff)
                logger.warning(
                    "outbox listener lost PostgreSQL (%s); the relay keeps polling; "
                    "reconnecting in %.1fs",
                    exc,
                    delay,
                )
                self._stop.wait(delay)
        self.listening.clear()
