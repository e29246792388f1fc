"""The record of an order's payment at the gateway.

The gateway is a remote system, never called inside a transaction, so a payment
is recorded in steps: the intent (`pending`) in one transaction, the gateway's
answer (`captured`, `declined`) in another; a refund likewise records only what
the gateway confirmed. `voided`: the order was cancelled before any money was
captured under its key.
"""

from __future__ import annotations

import enum
from datetime import datetime

from core.domain.errors import InvalidTransition


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    CAPTURED = "captured"
    DECLINED = "declined"
    VOIDED = "voided"
    REFUNDED = "refunded"


class Payment:
    def __init__(
        self,
        order_id: str,
        amount: int,
        currency: str,
        charge_id: str,
        status: PaymentStatus,
        created_at: datetime,
        refund_id: str | None = None,
        refunded_at: datetime | None = None,
        version: int = 1,
    ) -> None:
        self.order_id = order_id
        self.amount = amount
        self.currency = currency
        self.charge_id = charge_id
        self.status = status
        self.created_at = created_at
        self.refund_id = refund_id
        self.refunded_at = refunded_at
        self.version = version

    @staticmethod
    def intent(order_id: str, amount: int, currency: str, now: datetime) -> Payment:
        """A charge about to be asked of the gateway (recorded before the call)."""
        return Payment(order_id, amount, currency, "", PaymentStatus.PENDING, now)

    @property
    def refundable(self) -> bool:
        return self.status is PaymentStatus.CAPTURED

    @property
    def settled(self) -> bool:
        """Nothing more will happen to it (no money held at the gateway)."""
        return self.status in {PaymentStatus.DECLINED, PaymentStatus.VOIDED, PaymentStatus.REFUNDED}

    def _require(self, *allowed: PaymentStatus) -> None:
        if self.status not in allowed:
            raise InvalidTransition(f"payment of order {self.order_id} is {self.status}")

    def capture(self, charge_id: str) -> None:
        self._answered(PaymentStatus.CAPTURED, charge_id)

    def decline(self, charge_id: str) -> None:
        self._answered(PaymentStatus.DECLINED, charge_id)

    def _answered(self, status: PaymentStatus, charge_id: str) -> None:
        """The gateway's answer to the pending charge, under its charge id."""
        self._require(PaymentStatus.PENDING)
        self.status = status
        self.charge_id = charge_id
        self.version += 1

    def void(self) -> None:
        self._require(PaymentStatus.PENDING)
        self.status = PaymentStatus.VOIDED
        self.version += 1

    def mark_refunded(self, refund_id: str, now: datetime) -> None:
        """Record a refund the gateway confirmed (a pending intent whose capture was
        confirmed only through the refund is refunded too)."""
        if self.status is PaymentStatus.REFUNDED:
            raise InvalidTransition(f"payment of order {self.order_id} is already refunded")
        self._require(PaymentStatus.CAPTURED, PaymentStatus.PENDING)
        self.status = PaymentStatus.REFUNDED
        self.refund_id = refund_id
        self.refunded_at = now
        self.version += 1
