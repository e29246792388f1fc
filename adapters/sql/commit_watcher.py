"""Wake a relay promptly on SQLite when another process commits.

A relay in another process than the committer (the delivery process beside
`orderly serve`, entrypoints/delivery_process.py) would otherwise find new outbox
rows only at its next poll. SQLite has no notification across processes, but
`PRAGMA data_version` on a connection changes exactly when another connection
has committed to the file; reading it is a few microseconds and touches no table.
So a thread reads it every `interval` and calls `wake` when it moved.

Like PostgreSQL's listener (outbox_listener.py), this is an accelerator: the
relay's own poll still finds every row if the watcher stops.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from adapters.sql.wake_thread import WakeThread

logger = logging.getLogger("orderly.sql.commit_watcher")

# Ten checks a second would add up to 0.1 s to each delivery; a hundred cost well
# under a percent of a core.
INTERVAL_SECONDS = 0.01


class CommitWatcher(WakeThread):
    thread_name = "orderly-commit-watcher"

    def __init__(
        self, engine: Engine, wake: Callable[[], None], interval: float = INTERVAL_SECONDS
    ) -> None:
        super().__init__()
        self._engine = engine
        self._wake = wake
        self._interval = interval

    def _run(self) -> None:
        conn: Any = None
        last: object = None  # the value read last on `conn` (each connection counts its own)
        while not self._stop.wait(self._interval):
            try:
                if conn is None:
                    conn, last = self._engine.raw_connection(), None
                version = conn.cursor().execute("PRAGMA data_version").fetchone()[0]
            except Exception:
                # The file is busy or gone for a moment: the relay's poll covers it.
                logger.debug("commit watcher: data_version unreadable", exc_info=True)
                _close(conn)
                conn = None
                continue
            if last is not None and version != last:
                self._wake()
            last = version
        _close(conn)


def _close(conn: Any) -> None:
    if conn is None:
        return
    try:
        conn.close()
    except Exception:
        logger.debug("commit watcher: closing its connection failed", exc_info=True)
