"""One SQLite writer at a time across Orderly's processes, in turn, without sleeping.

SQLite makes a second writer retry in its busy handler, which sleeps 1, 2, 5, 10
... up to 100 ms between tries. Beside `orderly serve`, whose placement writer
commits group after group, the delivery process (entrypoints/delivery_process.py)
slept through the short gaps between groups: in scratch runs its backlog took
4.5-5.3 s to drain instead of about 2, and POST p99 doubled, as placements slept
in turn behind the delivery's transactions.

So every write transaction of an Orderly process first takes an advisory lock
(`flock`) on a file beside the database, after the in-process gate
(adapters/sql/database.py) and before BEGIN IMMEDIATE. The kernel queues the
waiters and wakes one the moment the holder lets go. A program that does not take
it (the sqlite3 shell, a migration) still meets SQLite's own lock and busy timeout.

A blocking `flock` cannot time out, so a contended wait runs in a short-lived
helper thread, on its own open file description, while the caller waits with a
timeout; a helper whose caller gave up releases the lock at once when it gets it.
"""

from __future__ import annotations

import fcntl
import os
import threading

from core.ports.errors import ConcurrencyConflict


def lock_path(database: str) -> str:
    """The lock file beside a SQLite database file."""
    return f"{database}-writer.lock"


class ProcessWriteLock:
    """Held by at most one write transaction among the processes sharing `path`.

    The caller serialises its own threads (only the in-process gate's owner calls
    `acquire`), and calls `release` once for each successful `acquire`.
    """

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self._timeout = timeout
        self._fd: int | None = None
        self._pid = 0  # the process that opened _fd: a forked child opens its own
        self._held: int | None = None  # the descriptor holding the lock

    def acquire(self) -> None:
        fd = self._own_fd()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._held = self._wait()
        else:
            self._held = fd

    def release(self) -> None:
        held, self._held = self._held, None
        if held is None:
            return
        fcntl.flock(held, fcntl.LOCK_UN)
        if held != self._fd:
            os.close(held)  # a helper's descriptor

    def _own_fd(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            # After a fork the inherited descriptor shares the parent's lock: never use it.
            self._fd = self._open()
            self._pid = os.getpid()
        return self._fd

    def _open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def _wait(self) -> int:
        fd = self._open()
        waiter = _Waiter(fd)
        threading.Thread(target=waiter.take, name="orderly-write-lock", daemon=True).start()
        if waiter.claim(self._timeout):
            return fd
        raise ConcurrencyConflict(
            f"timed out after {self._timeout:g}s waiting for another process's SQLite write "
            "transaction"
        )


class _Waiter:
    """A blocking `flock` on `fd` that its caller may stop waiting for."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._mutex = threading.Lock()
        self._got = threading.Event()
        self._abandoned = False

    def take(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        with self._mutex:
            if not self._abandoned:
                self._got.set()
                return
        os.close(self._fd)  # closing the descriptor releases the lock it holds

    def claim(self, timeout: float) -> bool:
        """True once the lock is held for the caller; False (and never held for it)
        after `timeout` seconds."""
        if self._got.wait(timeout):
            return True
        with self._mutex:
            if self._got.is_set():
                return True
            self._abandoned = True
        return False
