"""Orders and their status machine.

pending_payment --paid--> paid --ship--> shipped
      |                     |
      +------cancel---------+-----> cancelled
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from core.domain.catalog import validate_sku
from core.domain.errors import FieldProblem, InvalidTransition, ValidationError
from core.domain.events import (
    EventRecorder,
    OrderCancelled,
    OrderPaid,
    OrderPlaced,
    OrderShipped,
)
from core.domain.limits import MAX_LINES, MAX_ORDER_TOTAL, MAX_QUANTITY
from core.domain.money import Money


class OrderStatus(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


class CancelReason(enum.StrEnum):
    CUSTOMER_REQUEST = "customer_request"
    ADMIN_REQUEST = "admin_request"
    PAYMENT_DECLINED = "payment_declined"
    PAYMENT_TIMEOUT = "payment_timeout"


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price: int

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class RequestedLine:
    sku: str
    quantity: int


def validate_lines(lines: Sequence[RequestedLine]) -> None:
    """Shape rules of an order request: 1-100 distinct SKUs, quantities 1-1000."""
    if not 1 <= len(lines) <= MAX_LINES:
        raise ValidationError(
            f"an order has 1-{MAX_LINES} lines, got {len(lines)}",
            [FieldProblem("lines", f"must hold 1-{MAX_LINES} lines")],
        )
    seen: set[str] = set()
    repeated: list[str] = []
    problems: list[FieldProblem] = []
    for index, line in enumerate(lines):
        try:
            validate_sku(line.sku, f"lines[{index}].sku")
        except ValidationError as exc:
            problems.extend(exc.errors)
        q = line.quantity
        if isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= MAX_QUANTITY:
            problems.append(
                FieldProblem(f"lines[{index}].quantity", f"must be an integer 1-{MAX_QUANTITY}")
            )
        if line.sku in seen:
            repeated.append(line.sku)
            problems.append(FieldProblem(f"lines[{index}].sku", f"SKU {line.sku} is repeated"))
        seen.add(line.sku)
    if problems:
        detail = (
            f"SKU {repeated[0]} appears on more than one line"
            if repeated
            else "the order lines are invalid"
        )
        raise ValidationError(detail, problems)


class Order(EventRecorder):
    def __init__(
        self,
        id: str,
        customer_id: str,
        lines: Sequence[OrderLine],
        currency: str,
        status: OrderStatus,
        created_at: datetime,
        updated_at: datetime,
        cancel_reason: CancelReason | None = None,
        version: int = 1,
    ) -> None:
        super().__init__()
        self.id = id
        self.customer_id = customer_id
        self.lines = tuple(lines)
        self.currency = currency
        self.status = status
        self.cancel_reason = cancel_reason
        self.created_at = created_at
        self.updated_at = updated_at
        self.version = version

    @cached_property
    def total(self) -> Money:
        # Lines and currency never change after placement; the saga reads it several times.
        return Money(sum(line.line_total for line in self.lines), self.currency)

    @classmethod
    def place(
        cls,
        order_id: str,
        customer_id: str,
        lines: Sequence[OrderLine],
        currency: str,
        now: datetime,
    ) -> Order:
        validate_lines([RequestedLine(line.sku, line.quantity) for line in lines])
        total = sum(line.line_total for line in lines)
        if total > MAX_ORDER_TOTAL:
            # Only a price stored before the cap existed can get here (10^12 * 1000 * 100
            # is the cap): refuse rather than overflow a 64-bit total column.
            raise ValidationError(
                f"the order total {total} is above the limit of {MAX_ORDER_TOTAL} minor units",
                [FieldProblem("lines", f"the total must be at most {MAX_ORDER_TOTAL}")],
            )
        order = cls(
            order_id,
            customer_id,
            lines,
            currency,
            OrderStatus.PENDING_PAYMENT,
            created_at=now,
            updated_at=now,
        )
        order.record(
            OrderPlaced(
                occurred_at=now,
                order_id=order_id,
                customer_id=customer_id,
                total=order.total.amount,
                currency=currency,
                lines=[
                    {"sku": ln.sku, "quantity": ln.quantity, "unit_price": ln.unit_price}
                    for ln in lines
                ],
            )
        )
        return order

    def _refuse(self, action: str) -> InvalidTransition:
        return InvalidTransition(f"cannot {action} order {self.id}: it is {self.status.value}")

    def _touch(self, now: datetime) -> None:
        self.updated_at = now
        self.version += 1

    def mark_paid(self, now: datetime) -> None:
        if self.status is not OrderStatus.PENDING_PAYMENT:
            raise self._refuse("pay")
        self.status = OrderStatus.PAID
        self._touch(now)
        self.record(
            OrderPaid(
                occurred_at=now,
                order_id=self.id,
                customer_id=self.customer_id,
                amount=self.total.amount,
                currency=self.currency,
            )
        )

    def cancel(self, reason: CancelReason, now: datetime) -> bool:
        """Cancel; returns False when the order was already cancelled (a no-op)."""
        if self.status is OrderStatus.CANCELLED:
            return False
        if self.status is OrderStatus.SHIPPED:
            raise self._refuse("cancel")
        was_paid = self.status is OrderStatus.PAID
        self.status = OrderStatus.CANCELLED
        self.cancel_reason = reason
        self._touch(now)
        self.record(
            OrderCancelled(
                occurred_at=now,
                order_id=self.id,
                customer_id=self.customer_id,
                reason=reason.value,
                was_paid=was_paid,
            )
        )
        return True

    def ship(self, now: datetime) -> bool:
        """Ship a paid order; returns False when it was already shipped (a no-op)."""
        if self.status is OrderStatus.SHIPPED:
            return False
        if self.status is not OrderStatus.PAID:
            raise self._refuse("ship")
        self.status = OrderStatus.SHIPPED
        self._touch(now)
        self.record(OrderShipped(occurred_at=now, order_id=self.id, customer_id=self.customer_id))
        return True
