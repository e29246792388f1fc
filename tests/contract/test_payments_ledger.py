"""The gateway's ledger stores: in memory, a SQLite file, a private temporary file.

Every store behaves the same (one row per call, the first decision under a key
replayed), several stores on one file act as one ledger (as the processes of a
deployment do), and on SQLite the gateway and the notifier hold no memory per order.
"""

from __future__ import annotations

import gc
import os
import threading
import tracemalloc
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.notifications.log import LogNotifier
from adapters.payments.ledger import LedgerStore, MemoryLedger, SqliteLedger
from adapters.payments.simulated import SimulatedGateway
from core.domain.money import Money
from core.ports.notifications import Notification
from core.ports.payments import ChargeStatus, TransientPaymentError

EUR = Money(700, "EUR")
STORES: dict[str, Callable[[Path], LedgerStore]] = {
    "memory": lambda tmp: MemoryLedger(),
    "sqlite_file": lambda tmp: SqliteLedger(str(tmp / "ledger.db")),
    "sqlite_temporary": lambda tmp: SqliteLedger.temporary(),
}


@pytest.fixture(params=list(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> LedgerStore:
    return STORES[request.param](tmp_path)


def test_every_call_is_a_row_and_the_first_decision_is_replayed(store: LedgerStore) -> None:
    gateway = SimulatedGateway(store, decline_above=1000)
    first = gateway.charge("o-1", EUR)
    assert first.status is ChargeStatus.CAPTURED
    assert gateway.charge("o-1", Money(5000, "EUR")) == first  # same key: same answer
    assert gateway.charge("o-2", Money(5000, "EUR")).status is ChargeStatus.DECLINED
    assert not gateway.refund("o-2").refunded  # nothing captured under o-2
    refund = gateway.refund("o-1")
    assert (refund.refunded, refund.amount) == (True, 700)
    assert gateway.refund("o-1") == refund
    calls = store.calls()
    assert [(c.kind, c.key, c.amount, c.outcome) for c in calls] == [
        ("charge", "o-1", 700, "captured"),
        ("charge", "o-1", 5000, "replayed"),
        ("charge", "o-2", 5000, "declined"),
        ("refund", "o-2", 0, "not_refundable"),
        ("refund", "o-1", 700, "refunded"),
        ("refund", "o-1", 700, "replayed"),
    ]
    assert [c.seq for c in calls] == sorted({c.seq for c in calls})
    assert calls[1].reference == calls[0].reference == first.charge_id


def test_an_injected_failure_is_a_call_that_decided_nothing(store: LedgerStore) -> None:
    gateway = SimulatedGateway(store, failure_rate=1.0)
    with pytest.raises(TransientPaymentError):
        gateway.charge("o-1", EUR)
    with pytest.raises(TransientPaymentError):
        gateway.refund("o-1")
    assert [(c.kind, c.outcome) for c in store.calls()] == [
        ("charge", "failed"),
        ("refund", "failed"),
    ]
    assert store.decision("charge", "o-1") is None


def test_gateways_on_one_ledger_file_decide_each_key_once(tmp_path: Path) -> None:
    """Four gateways with their own stores on one file, as four worker processes would
    be, charge the same 40 orders from eight threads: one capture per order, and every
    call recorded."""
    path = str(tmp_path / "shared.db")
    gateways = [SimulatedGateway(SqliteLedger(path)) for _ in range(4)]
    keys = [f"o-{n}" for n in range(40)]
    answers: list[tuple[str, str]] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        gateway = gateways[n % 4]
        for key in keys:
            result = gateway.charge(key, EUR)
            with lock:
                answers.append((key, result.charge_id))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    calls = SqliteLedger(path).calls()
    assert len(calls) == len(answers) == 8 * 40
    outcomes = Counter((c.key, c.outcome) for c in calls)
    assert outcomes == Counter(
        {(k, "captured"): 1 for k in keys} | {(k, "replayed"): 7 for k in keys}
    )
    assert len(set(answers)) == 40  # every caller got the one decision under its key


def test_processes_opening_a_new_ledger_file_at_once_all_open_it(tmp_path: Path) -> None:
    """The relay and the worker start together on one new ledger file: setting up WAL
    and the schema at the same moment made one of them fail with "database is locked"
    (SQLite refuses, without waiting, a lock upgrade that could deadlock)."""
    import time

    failures = 0
    for attempt in range(15):
        path = str(tmp_path / f"ledger-{attempt}.db")
        start = time.monotonic() + 0.05
        children = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child reports through its exit code
                while time.monotonic() < start:
                    pass
                try:
                    SqliteLedger(path)
                except BaseException:
                    os._exit(1)
                os._exit(0)
            children.append(pid)
        for pid in children:
            _, status = os.waitpid(pid, 0)
            failures += os.waitstatus_to_exitcode(status) != 0
    assert failures == 0
    ledger = SqliteLedger(str(tmp_path / "ledger-0.db"))
    assert ledger.decide("charge", "k", 1, "EUR", "captured", "ch_1").outcome == "captured"


def test_a_temporary_ledger_file_is_removed_with_its_store() -> None:
    store = SqliteLedger.temporary()
    SimulatedGateway(store).charge("o-1", EUR)
    directory = os.path.dirname(store.path)
    assert os.path.exists(store.path)
    del store
    gc.collect()
    assert not os.path.exists(directory)


def test_on_sqlite_the_gateway_and_notifier_hold_no_memory_per_order() -> None:
    """Issue 11: after a warm-up, 3000 more orders charged and notified leave the Python
    heap as it was (give or take caches of fixed size). A store in memory would hold
    some 400 bytes per order; the old windows and bounded ledger did too."""
    gateway, notifier = SimulatedGateway(SqliteLedger.temporary()), LogNotifier()

    def orders(start: int, stop: int) -> None:
        for n in range(start, stop):
            gateway.charge(f"o-{n}", EUR)
            notifier.send(Notification("order_paid", f"o-{n}", "c-1", f"e-{n}"))

    orders(0, 500)
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        orders(500, 3500)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 3000 * 20, f"{grown} bytes more after 3000 orders"
