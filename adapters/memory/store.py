"""The committed state of the in-memory adapter.

One re-entrant lock serialises units of work (like SQLite's single writer), so
the memory adapter needs no version checks to stay correct under threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from core.domain.catalog import Product
from core.domain.events import EventEnvelope
from core.domain.idempotency import IdempotencyRecord
from core.domain.orders import Order
from core.domain.payments import Payment
from core.domain.principals import Principal
from core.domain.stock import Reservation, StockItem
from core.ports.messaging import DeadLetter


@dataclass
class OutboxRow:
    position: int
    envelope: EventEnvelope
    created_at: datetime
    sent: bool = False
    claimed: bool = False


@dataclass
class MemoryStore:
    products: dict[str, Product] = field(default_factory=dict)
    stock: dict[str, StockItem] = field(default_factory=dict)
    # order id -> that order's reservations, by SKU
    reservations: dict[str, dict[str, Reservation]] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    principals: dict[str, Principal] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)
    inbox: set[tuple[str, str]] = field(default_factory=set)
    outbox: list[OutboxRow] = field(default_factory=list)
    dead_letters: dict[tuple[str, str], DeadLetter] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def check_invariants(self) -> None:
        """Raise AssertionError if any stock item breaks the domain's invariants."""
        with self.lock:
            for item in self.stock.values():
                assert 0 <= item.reserved <= item.on_hand, item.sku
                assert item.reserved == sum(self.reservations_on(item.sku).values()), item.sku

    def reservations_on(self, sku: str) -> dict[str, int]:
        """Quantity held on `sku`, by order id (a scan: for checks, not for commands)."""
        with self.lock:
            return {
                order_id: held[sku].quantity
                for order_id, held in self.reservations.items()
                if sku in held
            }
