"""The simulated gateway's ledger: an append-only journal with one row per gateway call.

A row is keyed by nothing but its sequence number; it says what was asked (`kind`
"charge" or "refund", the idempotency `key`, `amount`, `currency`) and what came of it
(`outcome`, and the `reference` of the decision the caller got back):

- "captured", "declined" (charges) and "refunded" (refunds): this call decided; a
  capture or a refund is money moving;
- "replayed": a decision already existed under (kind, key); the call got that one back
  and moved nothing (a redelivery or a retry that the idempotency key absorbed);
- "not_refundable": a refund with no captured charge under its key;
- "failed": a transient failure was injected; nothing was decided.

Idempotency reads the journal (the first deciding row under (kind, key) is the
decision), so nothing in the schema makes a second capture for one key impossible:
that is the gateway's job, and audits that count capture rows check it.

Two stores: `MemoryLedger` for `memory://` deployments and unit tests, where every order
already lives in process memory; `SqliteLedger` for a file (shared by every process that
points at it) or, with `SqliteLedger.temporary()`, a private file per gateway instance,
so that a process on a SQL database keeps nothing per order in memory (docs/hardening.md).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

DECIDING = frozenset({"captured", "declined", "refunded"})
"""Outcomes that make a decision under (kind, key); later calls under it replay it."""


@dataclass(frozen=True)
class LedgerCall:
    seq: int
    kind: str  # "charge" | "refund"
    key: str
    amount: int
    currency: str
    reference: str
    outcome: str


class LedgerStore(Protocol):
    def decide(
        self, kind: str, key: str, amount: int, currency: str, outcome: str, reference: str
    ) -> LedgerCall:
        """Append one call atomically: a deciding row with `outcome` and `reference` if
        (kind, key) has no decision yet, else a "replayed" row. Return the decision."""
        ...

    def append(self, kind: str, key: str, amount: int, currency: str, outcome: str) -> None:
        """Append a call that decided nothing ("failed", "not_refundable")."""
        ...

    def decision(self, kind: str, key: str) -> LedgerCall | None:
        """The row that decided under (kind, key), if any."""
        ...

    def calls(self) -> list[LedgerCall]:
        """Every row in sequence order: for audits and operators, not the call path."""
        ...


class MemoryLedger:
    """The journal in a list, with the decision rows indexed by (kind, key). It grows with
    the orders, like the `MemoryStore` it is used with."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list[LedgerCall] = []
        self._decisions: dict[tuple[str, str], LedgerCall] = {}

    def _append(self, kind: str, key: str, amount: int, currency: str, ref: str, out: str) -> None:
        self._rows.append(LedgerCall(len(self._rows) + 1, kind, key, amount, currency, ref, out))

    def decide(
        self, kind: str, key: str, amount: int, currency: str, outcome: str, reference: str
    ) -> LedgerCall:
        with self._lock:
            existing = self._decisions.get((kind, key))
            if existing is not None:
                self._append(kind, key, amount, currency, existing.reference, "replayed")
                return existing
            self._append(kind, key, amount, currency, reference, outcome)
            self._decisions[(kind, key)] = self._rows[-1]
            return self._rows[-1]

    def append(self, kind: str, key: str, amount: int, currency: str, outcome: str) -> None:
        with self._lock:
            self._append(kind, key, amount, currency, "", outcome)

    def decision(self, kind: str, key: str) -> LedgerCall | None:
        with self._lock:
            return self._decisions.get((kind, key))

    def calls(self) -> list[LedgerCall]:
        with self._lock:
            return list(self._rows)


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS ledger_calls (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " kind TEXT NOT NULL, key TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL,"
    " reference TEXT NOT NULL, outcome TEXT NOT NULL)",
    # Not unique: the gateway's logic, not the schema, keeps one decision per key.
    "CREATE INDEX IF NOT EXISTS ledger_calls_by_key ON ledger_calls (kind, key, seq)",
)
_COLUMNS = "seq, kind, key, amount, currency, reference, outcome"
_FIND_DECISION = (
    f"SELECT {_COLUMNS} FROM ledger_calls WHERE kind = ? AND key = ?"
    " AND outcome IN ('captured', 'declined', 'refunded') ORDER BY seq LIMIT 1"
)
_INSERT = (
    "INSERT INTO ledger_calls (kind, key, amount, currency, reference, outcome)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def _remove_own(directory: str, owner: int) -> None:
    if os.getpid() == owner:  # not from a forked child: the file is its parent's
        shutil.rmtree(directory, ignore_errors=True)


_CREATE_TIMEOUT_SECONDS = 30.0


class SqliteLedger:
    """The journal in a SQLite file. Several processes may share it: WAL and a busy
    timeout let them write concurrently, and `BEGIN IMMEDIATE` makes the first decision
    under a key atomic across them. Each thread keeps one connection for the ledger's
    life (a connection and its PRAGMAs per call would cost more than the call)."""

    def __init__(self, path: str, *, durable: bool = True) -> None:
        self.path = path
        # NORMAL: in WAL mode a commit waits for no fsync (a crash of the machine, not of a
        # process, may lose the last calls); OFF for a private temporary file.
        self._synchronous = "NORMAL" if durable else "OFF"
        self._local = threading.local()
        # Writers of this process queue here: SQLite's own busy handler would make them
        # poll with sleeps of up to 100 ms (the gateway calls from a pool of threads).
        self._writing = threading.Lock()
        self._create(self._db())

    @staticmethod
    def _create(db: sqlite3.Connection) -> None:
        """WAL mode and the schema, once per file. Processes that open a new file at the
        same moment (the relay and the worker, started together) can get "database is
        locked" at once, without the busy timeout: SQLite refuses a lock upgrade that
        could deadlock. The file is being set up by the other one; try again shortly."""
        give_up = time.monotonic() + _CREATE_TIMEOUT_SECONDS
        while True:
            try:
                if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    db.execute("PRAGMA journal_mode=WAL")
                for statement in _SCHEMA:
                    db.execute(statement)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > give_up:
                    raise
                time.sleep(0.02)

    @classmethod
    def temporary(cls) -> SqliteLedger:
        """A ledger in a fresh private file, removed when the ledger is collected or the
        process exits."""
        directory = tempfile.mkdtemp(prefix="orderly-ledger-")
        ledger = cls(str(Path(directory) / "ledger.db"), durable=False)
        weakref.finalize(ledger, _remove_own, directory, os.getpid())
        return ledger

    def _db(self) -> sqlite3.Connection:
        opened: tuple[int, sqlite3.Connection] | None = getattr(self._local, "db", None)
        # A connection must not cross a fork: a child process opens its own.
        if opened is None or opened[0] != os.getpid():
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE in decide).
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute(f"PRAGMA synchronous={self._synchronous}")
            opened = self._local.db = (os.getpid(), db)
        return opened[1]

    def decide(
        self, kind: str, key: str, amount: int, currency: str, outcome: str, reference: str
    ) -> LedgerCall:
        db = self._db()
        with self._writing:
            return self._decide(db, kind, key, amount, currency, outcome, reference)

    def _decide(
        self,
        db: sqlite3.Connection,
        kind: str,
        key: str,
        amount: int,
        currency: str,
        outcome: str,
        reference: str,
    ) -> LedgerCall:
        db.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes
        try:
            row = db.execute(_FIND_DECISION, (kind, key)).fetchone()
            if row is not None:
                db.execute(_INSERT, (kind, key, amount, currency, row[5], "replayed"))
                decision = LedgerCall(*row)
            else:
                cursor = db.execute(_INSERT, (kind, key, amount, currency, reference, outcome))
                assert cursor.lastrowid is not None
                decision = LedgerCall(
                    cursor.lastrowid, kind, key, amount, currency, reference, outcome
                )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return decision

    def append(self, kind: str, key: str, amount: int, currency: str, outcome: str) -> None:
        db = self._db()
        with self._writing:
            db.execute(_INSERT, (kind, key, amount, currency, "", outcome))

    def decision(self, kind: str, key: str) -> LedgerCall | None:
        row = self._db().execute(_FIND_DECISION, (kind, key)).fetchone()
        return None if row is None else LedgerCall(*row)

    def calls(self) -> list[LedgerCall]:
        rows = self._db().execute(f"SELECT {_COLUMNS} FROM ledger_calls ORDER BY seq")
        return [LedgerCall(*row) for row in rows]
