"""The bundled simulated gateway: declines above a threshold, fails transiently at a
rate, answers after a latency (`latency_ms`, slept before deciding, so calls overlap
as across a network).

Like a real gateway it is idempotent by key: the first charge (or refund) under a
key decides, repeats return that decision. It keeps nothing per order itself: every
call, decided, replayed or failed, is a row of its ledger store (adapters/payments/
ledger.py), which is where audits and tests read what the gateway did.
"""

from __future__ import annotations

import random
import threading
import time
import uuid

from adapters.payments.ledger import LedgerStore, MemoryLedger
from core.domain.money import Money
from core.ports.payments import (
    ChargeResult,
    ChargeStatus,
    RefundResult,
    TransientPaymentError,
)


def _reason(status: ChargeStatus) -> str:
    return "limit" if status is ChargeStatus.DECLINED else ""


class SimulatedGateway:
    def __init__(
        self,
        ledger: LedgerStore | None = None,
        decline_above: int = 100_000_000,
        failure_rate: float = 0.0,
        seed: int | None = None,
        latency_ms: int = 0,
    ) -> None:
        self._ledger: LedgerStore = MemoryLedger() if ledger is None else ledger
        self._latency = latency_ms / 1000
        self._decline_above = decline_above
        self._failure_rate = failure_rate
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()  # random.Random is not safe across threads

    def _fails(self) -> bool:
        if not self._failure_rate:
            return False
        with self._random_lock:
            return self._random.random() < self._failure_rate

    def _wait(self) -> None:
        """The network round trip, outside any lock: calls overlap as at a real gateway."""
        if self._latency:
            time.sleep(self._latency)

    def charge(self, idempotency_key: str, amount: Money) -> ChargeResult:
        self._wait()
        if self._fails():
            self._ledger.append("charge", idempotency_key, amount.amount, amount.currency, "failed")
            raise TransientPaymentError("simulated gateway timeout")
        status = (
            ChargeStatus.DECLINED if amount.amount > self._decline_above else ChargeStatus.CAPTURED
        )
        decision = self._ledger.decide(
            "charge",
            idempotency_key,
            amount.amount,
            amount.currency,
            status.value,
            f"ch_{uuid.uuid4().hex}",
        )
        status = ChargeStatus(decision.outcome)
        return ChargeResult(status, decision.reference, _reason(status))

    def refund(self, idempotency_key: str) -> RefundResult:
        self._wait()
        if self._fails():
            self._ledger.append("refund", idempotency_key, 0, "", "failed")
            raise TransientPaymentError("simulated gateway timeout")
        # A decision never changes once made, so reading the charge's first is safe.
        charge = self._ledger.decision("charge", idempotency_key)
        if charge is None or charge.outcome != ChargeStatus.CAPTURED.value:
            self._ledger.append("refund", idempotency_key, 0, "", "not_refundable")
            return RefundResult(False, "", 0)
        decision = self._ledger.decide(
            "refund",
            idempotency_key,
            charge.amount,
            charge.currency,
            "refunded",
            f"re_{uuid.uuid4().hex}",
        )
        return RefundResult(True, decision.reference, decision.amount)
