"""Stock items and the reservations that orders hold on them.

A `StockItem` carries counters only: `reserved` is the total over every open
reservation of its SKU. A `Reservation` is an entity of its own (one order, one
SKU), loaded by order through its repository, so a popular SKU never drags every
open order into memory (docs/decisions/0015-reservation-entity.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.domain.catalog import validate_sku
from core.domain.errors import FieldProblem, StockBelowReserved, ValidationError
from core.domain.events import EventRecorder, StockAdjusted
from core.domain.limits import MAX_STOCK
from core.domain.text import is_nonblank_text

REASON_MAX = 200


def validate_reason(reason: str) -> str:
    if not isinstance(reason, str) or len(reason) > REASON_MAX or not is_nonblank_text(reason):
        raise ValidationError(
            f"reason must be 1-{REASON_MAX} characters, not blank, no control characters",
            [
                FieldProblem(
                    "reason",
                    f"must be 1-{REASON_MAX} characters, not blank, no control characters",
                )
            ],
        )
    return reason


@dataclass
class Reservation:
    """Units of one SKU held for one order, from placement until the order is
    cancelled (released) or shipped (committed). Ending it is a one-way step, so a
    reservation is given back at most once; its repository then removes it."""

    order_id: str
    sku: str
    quantity: int
    ended: bool = False

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValidationError("reservation quantity must be positive")

    def end(self) -> int:
        """The quantity it held, the first time; 0 once it has ended."""
        if self.ended:
            return 0
        self.ended = True
        return self.quantity


class StockItem(EventRecorder):
    def __init__(self, sku: str, on_hand: int = 0, reserved: int = 0, version: int = 1) -> None:
        super().__init__()
        self.sku = validate_sku(sku)
        if on_hand < 0 or reserved < 0 or reserved > on_hand:
            raise ValidationError(
                f"stock for {sku} breaks 0 <= reserved ({reserved}) <= on_hand ({on_hand})"
            )
        self.on_hand = on_hand
        self.reserved = reserved
        self.version = version

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def can_reserve(self, quantity: int) -> bool:
        return 0 < quantity <= self.available

    def reserve(self, order_id: str, quantity: int) -> Reservation:
        """Hold `quantity` for `order_id`; the caller stores the reservation returned."""
        if quantity <= 0:
            raise ValidationError("reservation quantity must be positive")
        if quantity > self.available:
            raise StockBelowReserved(
                f"cannot reserve {quantity} of {self.sku}: only {self.available} available"
            )
        self.reserved += quantity
        self.version += 1
        return Reservation(order_id, self.sku, quantity)

    def release(self, reservation: Reservation) -> int:
        """Give a reservation back; a reservation is released at most once."""
        quantity = self._end(reservation)
        if quantity:
            self.reserved -= quantity
            self.version += 1
        return quantity

    def commit(self, reservation: Reservation) -> int:
        """Shipping: the reserved units leave the warehouse."""
        quantity = self._end(reservation)
        if quantity:
            self.reserved -= quantity
            self.on_hand -= quantity
            self.version += 1
        return quantity

    def _end(self, reservation: Reservation) -> int:
        if reservation.sku != self.sku:
            raise ValueError(f"a reservation on {reservation.sku} is not held on {self.sku}")
        return reservation.end()

    def set_on_hand(self, on_hand: int, now: datetime, reason: str = "set") -> None:
        if (
            isinstance(on_hand, bool)
            or not isinstance(on_hand, int)
            or not 0 <= on_hand <= MAX_STOCK
        ):
            raise ValidationError(
                f"on_hand must be an integer 0-{MAX_STOCK}, got {on_hand!r}",
                [FieldProblem("on_hand", f"must be an integer 0-{MAX_STOCK}")],
            )
        if on_hand < self.reserved:
            raise StockBelowReserved(
                f"cannot set on_hand of {self.sku} to {on_hand}: {self.reserved} are reserved"
            )
        delta = on_hand - self.on_hand
        if delta == 0:
            return
        self.on_hand = on_hand
        self.version += 1
        # Positional (occurred_at, sku, on_hand, reserved, delta, reason): a frozen
        # dataclass takes keywords a quarter slower, and an import records one a row.
        self.record(StockAdjusted(now, self.sku, self.on_hand, self.reserved, delta, reason))

    def adjust(self, delta: int, reason: str, now: datetime) -> None:
        if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
            raise ValidationError(
                "delta must be a non-zero integer",
                [FieldProblem("delta", "must be a non-zero integer")],
            )
        validate_reason(reason)
        target = self.on_hand + delta
        if target > MAX_STOCK:
            raise ValidationError(
                f"adjusting {self.sku} by {delta} would leave on_hand at {target}, "
                f"above the limit of {MAX_STOCK}",
                [FieldProblem("delta", f"would take on_hand above {MAX_STOCK}")],
            )
        if target < 0:
            raise StockBelowReserved(
                f"adjusting {self.sku} by {delta} would leave on_hand at {target}, below zero"
            )
        if target < self.reserved:
            raise StockBelowReserved(
                f"adjusting {self.sku} by {delta} would leave on_hand at {target}, "
                f"below the {self.reserved} reserved"
            )
        self.set_on_hand(target, now, reason)
