"""The SQLite write gate lets writers in in the order they asked (adapters/sql/database.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from adapters.sql.database import _WriteGate
from core.ports.errors import ConcurrencyConflict


def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def _queued(gate: _WriteGate, n: int) -> None:
    _until(lambda: len(gate._waiters) == n)


def test_waiting_writers_get_the_gate_in_the_order_they_asked() -> None:
    gate = _WriteGate(timeout=5)
    order: list[str] = []

    def writer(name: str) -> None:
        gate.acquire()
        order.append(name)
        gate.release()

    gate.acquire()
    threads = []
    for i, name in enumerate(["b", "c", "d"]):
        thread = threading.Thread(target=writer, args=(name,))
        thread.start()
        _queued(gate, i + 1)  # each asks after the one before is waiting
        threads.append(thread)
    gate.release()
    for thread in threads:
        thread.join(5)
    assert order == ["b", "c", "d"]


def test_a_writer_that_releases_and_asks_again_goes_behind_the_one_waiting() -> None:
    # The relay between two handler batches, or the placement writer between two groups:
    # with a plain lock it usually took the gate again before the waiter woke up.
    gate = _WriteGate(timeout=5)
    order: list[str] = []

    def other() -> None:
        gate.acquire()
        order.append("other")
        time.sleep(0.01)
        gate.release()

    gate.acquire()
    thread = threading.Thread(target=other)
    thread.start()
    _queued(gate, 1)
    for _ in range(3):
        gate.release()
        gate.acquire()
        order.append("me")
    gate.release()
    thread.join(5)
    assert order[0] == "other"


def test_a_writer_that_waits_too_long_is_refused_and_leaves_the_queue() -> None:
    gate = _WriteGate(timeout=0.05)
    gate.acquire()
    refused: list[Exception] = []

    def late() -> None:
        try:
            gate.acquire()
        except ConcurrencyConflict as exc:
            refused.append(exc)

    thread = threading.Thread(target=late)
    thread.start()
    thread.join(5)
    assert len(refused) == 1 and not gate._waiters
    gate.release()
    gate.acquire()  # free again: the refused writer holds nothing
    gate.release()


def test_a_thread_asking_for_the_gate_it_holds_is_told_at_once() -> None:
    gate = _WriteGate(timeout=5)
    gate.acquire()
    with pytest.raises(RuntimeError, match="nested write unit of work"):
        gate.acquire()
    gate.release()
