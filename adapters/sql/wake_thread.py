"""What wakes a relay when another process commits outbox rows: a daemon thread
with `start()` and `stop()`. PostgreSQL's listener (outbox_listener.py) and
SQLite's commit watcher (commit_watcher.py) each supply the loop."""

from __future__ import annotations

import threading
from typing import Self


class WakeThread:
    """Runs `_run` in a daemon thread until `stop()` sets `_stop`."""

    thread_name = "orderly-wake"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        raise NotImplementedError
