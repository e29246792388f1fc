"""Orderly's processes queue their SQLite write transactions on a file lock
(adapters/sql/process_lock.py) instead of sleeping in SQLite's busy handler."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from adapters.sql.database import SqlDatabase
from adapters.sql.process_lock import ProcessWriteLock, lock_path
from core.ports.errors import ConcurrencyConflict

FORK = multiprocessing.get_context("fork")


def _free(path: str) -> bool:
    """Whether another open file description could take the lock now."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases it if taken
    return True


def test_a_write_transaction_holds_the_lock_beside_the_database(tmp_path: Path) -> None:
    database = SqlDatabase.from_url(f"sqlite:///{tmp_path / 'orderly.db'}")
    path = lock_path(str(tmp_path / "orderly.db"))
    try:
        with database.write() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            assert not _free(path)
        assert _free(path)
        with pytest.raises(ValueError, match="given up"), database.write() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            raise ValueError("given up")
        assert _free(path)  # a transaction rolled back lets go too
    finally:
        database.dispose()


def _take_then_report(path: str, ready: Event, taken: Event) -> None:
    lock = ProcessWriteLock(path, timeout=30)
    ready.set()
    lock.acquire()
    taken.set()
    lock.release()


def test_a_writer_in_another_process_waits_until_the_holder_lets_go(tmp_path: Path) -> None:
    path = str(tmp_path / "db-writer.lock")
    holder = ProcessWriteLock(path, timeout=5)
    holder.acquire()
    ready, taken = FORK.Event(), FORK.Event()
    child = FORK.Process(target=_take_then_report, args=(path, ready, taken))
    child.start()
    try:
        assert ready.wait(10)
        assert not taken.wait(0.5)  # still held here
        holder.release()
        assert taken.wait(10)
    finally:
        child.join(10)
    assert child.exitcode == 0


def test_a_wait_that_times_out_is_a_conflict_and_never_holds_the_lock(tmp_path: Path) -> None:
    path = str(tmp_path / "db-writer.lock")
    holder = ProcessWriteLock(path, timeout=5)
    holder.acquire()
    impatient = ProcessWriteLock(path, timeout=0.2)
    with pytest.raises(ConcurrencyConflict, match="another process's SQLite write"):
        impatient.acquire()
    holder.release()
    # The helper that waited for `impatient` gets the lock now and lets it go at once.
    later = ProcessWriteLock(path, timeout=10)
    later.acquire()
    later.release()
    impatient.release()  # nothing held: a no-op


def _acquire_in_child(lock: ProcessWriteLock, outcome: Any) -> None:
    try:
        lock.acquire()
    except ConcurrencyConflict:
        outcome.value = 1
    else:
        outcome.value = 2


def test_a_forked_child_does_not_share_the_lock_its_parent_holds(tmp_path: Path) -> None:
    lock = ProcessWriteLock(str(tmp_path / "db-writer.lock"), timeout=0.3)
    lock.acquire()
    outcome = FORK.Value("i", 0)
    child = FORK.Process(target=_acquire_in_child, args=(lock, outcome))
    child.start()
    child.join(10)
    lock.release()
    # An inherited descriptor would have shared the parent's lock: taken at once.
    assert outcome.value == 1
