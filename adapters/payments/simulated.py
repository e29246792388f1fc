"""The bundled simulated gateway: declines above a threshold, fails transiently at a
rate, and keeps a ledger so tests can prove each order was charged at most once.

The ledger lives in this process. A deployment with several worker processes
can point `ledger_path` at a SQLite file so that the audit sees every process.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import uuid
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


class SimulatedGateway:
    def __init__(
        self,
        decline_above: int = 100_000_000,
        failure_rate: float = 0.0,
        seed: int | None = None,
        ledger_path: str | None = None,
    ) -> None:
        self._decline_above = decline_above
        self._failure_rate = failure_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._ledger_path = ledger_path
        self._charges: dict[str, ChargeResult] = {}
        self._amounts: dict[str, Money] = {}
        self._refunds: dict[str, RefundResult] = {}
        self.ledger: list[LedgerEntry] = []
        if ledger_path:
            with self._db() as db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS ledger (kind TEXT, key TEXT, amount INTEGER,"
                    " currency TEXT, reference TEXT, status TEXT, PRIMARY KEY (kind, key))"
                )

    def _db(self) -> sqlite3.Connection:
        assert self._ledger_path is not None
        return sqlite3.connect(self._ledger_path, timeout=30, isolation_level=None)

    def _maybe_fail(self) -> None:
        if self._failure_rate and self._random.random() < self._failure_rate:
            raise TransientPaymentError("simulated gateway timeout")

    def charge(self, idempotency_key: str, amount: Money) -> ChargeResult:
        with self._lock:
            self._maybe_fail()
            previous = self._lookup_charge(idempotency_key)
            if previous is not None:
                return previous
            if amount.amount > self._decline_above:
                result = ChargeResult(ChargeStatus.DECLINED, f"ch_{uuid.uuid4().hex}", "limit")
            else:
                result = ChargeResult(ChargeStatus.CAPTURED, f"ch_{uuid.uuid4().hex}")
            return self._record_charge(idempotency_key, amount, result)

    def refund(self, idempotency_key: str) -> RefundResult:
        with self._lock:
            self._maybe_fail()
            previous = self._refunds.get(idempotency_key)
            if previous is not None:
                return previous
            charge = self._lookup_charge(idempotency_key)
            if charge is None or charge.status is not ChargeStatus.CAPTURED:
                return RefundResult(False, "", 0)
            amount = self._amounts[idempotency_key]
            result = RefundResult(True, f"re_{uuid.uuid4().hex}", amount.amount)
            if self._ledger_path:
                with self._db() as db:
                    row = db.execute(
                        "SELECT reference, amount FROM ledger WHERE kind='refund' AND key=?",
                        (idempotency_key,),
                    ).fetchone()
                    if row is not None:
                        result = RefundResult(True, row[0], row[1])
                    else:
                        db.execute(
                            "INSERT INTO ledger VALUES ('refund', ?, ?, ?, ?, 'refunded')",
                            (idempotency_key, amount.amount, amount.currency, result.refund_id),
                        )
            self._refunds[idempotency_key] = result
            self.ledger.append(
                LedgerEntry(
                    "refund", idempotency_key, amount.amount, amount.currency, result.refund_id
                )
            )
            return result

    def _lookup_charge(self, key: str) -> ChargeResult | None:
        if key in self._charges:
            return self._charges[key]
        if not self._ledger_path:
            return None
        with self._db() as db:
            row = db.execute(
                "SELECT reference, status, amount, currency FROM ledger"
                " WHERE kind='charge' AND key=?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        result = ChargeResult(ChargeStatus(row[1]), row[0])
        self._charges[key] = result
        self._amounts[key] = Money(row[2], row[3])
        return result

    def _record_charge(self, key: str, amount: Money, result: ChargeResult) -> ChargeResult:
        if self._ledger_path:
            with self._db() as db:
                db.execute(
                    "INSERT OR IGNORE INTO ledger VALUES ('charge', ?, ?, ?, ?, ?)",
                    (key, amount.amount, amount.currency, result.charge_id, result.status.value),
                )
            stored = self._lookup_stored(key)
            result = stored or result
        self._charges[key] = result
        self._amounts[key] = amount
        self.ledger.append(
            LedgerEntry("charge", key, amount.amount, amount.currency, result.charge_id)
        )
        return result

    def _lookup_stored(self, key: str) -> ChargeResult | None:
        with self._db() as db:
            row = db.execute(
                "SELECT reference, status FROM ledger WHERE kind='charge' AND key=?", (key,)
            ).fetchone()
        return ChargeResult(ChargeStatus(row[1]), row[0]) if row else None

    # Audit helpers for tests and operators.
    def charges(self) -> dict[str, int]:
        """Charge key -> how many captures were made under it (must be <= 1)."""
        return self._count("charge")

    def refunds(self) -> dict[str, int]:
        return self._count("refund")

    def _count(self, kind: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        if self._ledger_path:
            with self._db() as db:
                for (key,) in db.execute("SELECT key FROM ledger WHERE kind=?", (kind,)):
                    counts[key] = counts.get(key, 0) + 1
            return counts
        for entry in self.ledger:
            if entry.kind == kind:
                counts[entry.key] = counts.get(entry.key, 0) + 1
        return counts
