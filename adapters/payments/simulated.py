"""The bundled simulated gateway: declines above a threshold, fails transiently at a
rate, answers after a latency (`latency_ms`, slept outside its lock, so calls
overlap as across a network), and keeps a ledger so tests can prove each order
was charged at most once.

Like a real gateway it is idempotent by key: the first charge (or refund) under a
key decides, repeats return that decision. The ledger records each decision once
(`kind` "charge" for a capture or a decline, "refund") and counts every call, so
an audit sees both the effects (at most one per key) and the redeliveries that
asked for them again.

The ledger lives in this process unless `ledger_path` names a SQLite file: then
every process pointing at the file (API, several workers) shares one ledger, and
the first decision under a key is made atomically across them.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
import uuid
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass

from core.domain.money import Money
from core.ports.payments import (
    ChargeResult,
    ChargeStatus,
    RefundResult,
    TransientPaymentError,
)


@dataclass(frozen=True)
class LedgerEntry:
    kind: str  # "charge" | "refund"
    key: str
    amount: int
    currency: str
    reference: str
    status: str = ""  # charges: "captured" | "declined"; refunds: "refunded"


RECENT = 1000
"""How many of this process's latest decisions `SimulatedGateway.ledger` keeps."""

MEMORY_LEDGER_KEYS = 100_000
"""How many keys the in-process ledger remembers (oldest forgotten first), like a real
gateway that keeps idempotency keys for a while, not forever. `ledger_path` keeps all."""


class _MemoryLedger:
    def __init__(self, capacity: int = MEMORY_LEDGER_KEYS) -> None:
        self._capacity = capacity
        self.entries: OrderedDict[tuple[str, str], LedgerEntry] = OrderedDict()
        self.calls: Counter[tuple[str, str]] = Counter()

    def decide(self, proposal: LedgerEntry) -> tuple[LedgerEntry, bool]:
        """Store `proposal` unless a decision exists; return the decision and whether
        it is new."""
        slot = (proposal.kind, proposal.key)
        self.calls[slot] += 1
        existing = self.entries.get(slot)
        if existing is not None:
            return existing, False
        self.entries[slot] = proposal
        while len(self.entries) > self._capacity:
            forgotten, _ = self.entries.popitem(last=False)
            self.calls.pop(forgotten, None)
        return proposal, True

    def find(self, kind: str, key: str) -> LedgerEntry | None:
        return self.entries.get((kind, key))

    def all(self, kind: str) -> list[LedgerEntry]:
        return [entry for (k, _), entry in self.entries.items() if k == kind]

    def call_counts(self, kind: str) -> dict[str, int]:
        return {key: n for (k, key), n in self.calls.items() if k == kind}


class _SqliteLedger:
    """One row per decision (primary key kind+key) and a call counter, in a file that
    several processes share. WAL and a busy timeout let them write concurrently."""

    def __init__(self, path: str) -> None:
        self._path = path
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS ledger (kind TEXT NOT NULL, key TEXT NOT NULL,"
                " amount INTEGER NOT NULL, currency TEXT NOT NULL, reference TEXT NOT NULL,"
                " status TEXT NOT NULL, PRIMARY KEY (kind, key))"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS calls (kind TEXT NOT NULL, key TEXT NOT NULL,"
                " count INTEGER NOT NULL, PRIMARY KEY (kind, key))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=30, isolation_level=None)

    def decide(self, proposal: LedgerEntry) -> tuple[LedgerEntry, bool]:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")  # one writer at a time across processes
            db.execute(
                "INSERT INTO calls VALUES (?, ?, 1)"
                " ON CONFLICT (kind, key) DO UPDATE SET count = count + 1",
                (proposal.kind, proposal.key),
            )
            inserted = db.execute(
                "INSERT OR IGNORE INTO ledger VALUES (?, ?, ?, ?, ?, ?)",
                (
                    proposal.kind,
                    proposal.key,
                    proposal.amount,
                    proposal.currency,
                    proposal.reference,
                    proposal.status,
                ),
            ).rowcount
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()
        if inserted:
            return proposal, True
        stored = self.find(proposal.kind, proposal.key)
        assert stored is not None
        return stored, False

    def find(self, kind: str, key: str) -> LedgerEntry | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT amount, currency, reference, status FROM ledger WHERE kind=? AND key=?",
                (kind, key),
            ).fetchone()
        return None if row is None else LedgerEntry(kind, key, row[0], row[1], row[2], row[3])

    def all(self, kind: str) -> list[LedgerEntry]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT key, amount, currency, reference, status FROM ledger WHERE kind=?",
                (kind,),
            ).fetchall()
        return [LedgerEntry(kind, *row) for row in rows]

    def call_counts(self, kind: str) -> dict[str, int]:
        with self._connect() as db:
            rows = db.execute("SELECT key, count FROM calls WHERE kind=?", (kind,))
            return {key: count for key, count in rows}


def _reason(status: ChargeStatus) -> str:
    return "limit" if status is ChargeStatus.DECLINED else ""


class SimulatedGateway:
    def __init__(
        self,
        decline_above: int = 100_000_000,
        failure_rate: float = 0.0,
        seed: int | None = None,
        ledger_path: str | None = None,
        memory_ledger_keys: int = MEMORY_LEDGER_KEYS,
        latency_ms: int = 0,
    ) -> None:
        self._latency = latency_ms / 1000
        self._decline_above = decline_above
        self._failure_rate = failure_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._store = (
            _SqliteLedger(ledger_path) if ledger_path else _MemoryLedger(memory_ledger_keys)
        )
        # The latest decisions this process made, in order: a bounded window for tests and
        # demos; the whole ledger is in the store (`entries()`, `charges()`, ...).
        self.ledger: deque[LedgerEntry] = deque(maxlen=RECENT)

    def _maybe_fail(self) -> None:
        if self._failure_rate and self._random.random() < self._failure_rate:
            raise TransientPaymentError("simulated gateway timeout")

    def _wait(self) -> None:
        """The network round trip, outside the lock: calls overlap as at a real gateway."""
        if self._latency:
            time.sleep(self._latency)

    def charge(self, idempotency_key: str, amount: Money) -> ChargeResult:
        self._wait()
        with self._lock:
            self._maybe_fail()
            status = (
                ChargeStatus.DECLINED
                if amount.amount > self._decline_above
                else ChargeStatus.CAPTURED
            )
            proposal = LedgerEntry(
                "charge",
                idempotency_key,
                amount.amount,
                amount.currency,
                f"ch_{uuid.uuid4().hex}",
                status.value,
            )
            entry, new = self._store.decide(proposal)
            if new:
                self.ledger.append(entry)
            status = ChargeStatus(entry.status)
            return ChargeResult(status, entry.reference, _reason(status))

    def refund(self, idempotency_key: str) -> RefundResult:
        self._wait()
        with self._lock:
            self._maybe_fail()
            charge = self._store.find("charge", idempotency_key)
            if charge is None or charge.status != ChargeStatus.CAPTURED.value:
                return RefundResult(False, "", 0)
            proposal = LedgerEntry(
                "refund",
                idempotency_key,
                charge.amount,
                charge.currency,
                f"re_{uuid.uuid4().hex}",
                "refunded",
            )
            entry, new = self._store.decide(proposal)
            if new:
                self.ledger.append(entry)
            return RefundResult(True, entry.reference, entry.amount)

    # Audit helpers for tests and operators.
    def charge_result(self, key: str) -> ChargeResult | None:
        """The decision recorded under `key`, if any."""
        entry = self._store.find("charge", key)
        if entry is None:
            return None
        status = ChargeStatus(entry.status)
        return ChargeResult(status, entry.reference, _reason(status))

    def entries(self, kind: str) -> list[LedgerEntry]:
        """Every decision of `kind` ("charge" or "refund") in the ledger, all processes'."""
        return self._store.all(kind)

    def charges(self) -> dict[str, int]:
        """Charge key -> how many charge decisions (capture or decline) the ledger holds."""
        return dict(Counter(entry.key for entry in self._store.all("charge")))

    def captured(self) -> set[str]:
        """Keys under which money was captured."""
        return {
            entry.key
            for entry in self._store.all("charge")
            if entry.status == ChargeStatus.CAPTURED.value
        }

    def refunds(self) -> dict[str, int]:
        """Charge key -> how many refunds the ledger holds under it."""
        return dict(Counter(entry.key for entry in self._store.all("refund")))

    def charge_calls(self) -> dict[str, int]:
        """Charge key -> how many times charge() was called with it (redeliveries and
        retries included): the requests the idempotency key absorbed."""
        return self._store.call_counts("charge")
