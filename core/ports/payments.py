"""The payment gateway, keyed by idempotency keys so that retries never double-charge."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from core.domain.money import Money
from core.ports.errors import TransientError


class ChargeStatus(enum.StrEnum):
    CAPTURED = "captured"
    DECLINED = "declined"


@dataclass(frozen=True)
class ChargeResult:
    status: ChargeStatus
    charge_id: str
    reason: str = ""


@dataclass(frozen=True)
class RefundResult:
    refunded: bool
    refund_id: str
    amount: int


class TransientPaymentError(TransientError):
    """The gateway could not answer now; retry with backoff."""


class PaymentGateway(Protocol):
    def charge(self, idempotency_key: str, amount: Money) -> ChargeResult:
        """Charge once per key: repeating a key returns the first result."""
        ...

    def refund(self, idempotency_key: str) -> RefundResult:
        """Refund the capture made under the charge key `idempotency_key`, at most once.

        Returns refunded=False when nothing was captured under that key.
        """
        ...
