"""The record of an order's payment at the gateway."""

from __future__ import annotations

import enum
from datetime import datetime

from core.domain.errors import InvalidTransition


class PaymentStatus(enum.StrEnum):
    CAPTURED = "captured"
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

    @property
    def refundable(self) -> bool:
        return self.status is PaymentStatus.CAPTURED

    def mark_refunded(self, refund_id: str, now: datetime) -> None:
        if self.status is not PaymentStatus.CAPTURED:
            raise InvalidTransition(f"payment of order {self.order_id} is already refunded")
        self.status = PaymentStatus.REFUNDED
        self.refund_id = refund_id
        self.refunded_at = now
        self.version += 1
