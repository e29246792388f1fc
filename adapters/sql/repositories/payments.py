"""Payments, keyed by their order's id."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.sql import mapping
from adapters.sql.bulk import execute_many
from adapters.sql.prepared import select_rows
from adapters.sql.repositories.base import Versioned, VersionedRepository, on_duplicate
from adapters.sql.repositories.statements import (
    PAYMENT_GET,
    PAYMENT_INSERT,
    PAYMENT_UPDATE,
    PAYMENTS_GET_MANY,
)
from core.domain.payments import Payment
from core.ports.errors import ConcurrencyConflict


class SqlPaymentRepository(VersionedRepository):
    _by_key = PAYMENT_GET
    _key_param = "order_id"

    def get(self, order_id: str) -> Payment | None:
        rows = select_rows(self._conn, PAYMENT_GET, {"order_id": order_id})
        if not rows:
            return None
        payment = mapping.payment_from_row(rows[0])
        self._loaded[order_id] = payment.version
        return payment

    def get_many(self, order_ids: Sequence[str]) -> dict[str, Payment]:
        if not order_ids:
            return {}
        found = {}
        for row in select_rows(self._conn, PAYMENTS_GET_MANY, {"ids": list(order_ids)}):
            payment = mapping.payment_from_row(row)
            self._loaded[payment.order_id] = payment.version
            found[payment.order_id] = payment
        return found

    def add(self, payment: Payment) -> None:
        on_duplicate(
            lambda: ConcurrencyConflict(f"payment for {payment.order_id} exists"),
            execute_many,
            self._conn,
            PAYMENT_INSERT,
            [mapping.payment_values(payment)],
        )
        self._loaded[payment.order_id] = payment.version

    def add_many(self, payments: Sequence[Payment]) -> None:
        if not payments:
            return
        on_duplicate(
            lambda: ConcurrencyConflict("a payment was added concurrently"),
            execute_many,
            self._conn,
            PAYMENT_INSERT,
            [mapping.payment_values(payment) for payment in payments],
        )
        for payment in payments:
            self._loaded[payment.order_id] = payment.version

    def save(self, payment: Payment) -> None:
        self.save_many([payment])

    def save_many(self, payments: Sequence[Payment]) -> None:
        items: list[Versioned] = []
        for payment in payments:
            values = mapping.payment_values(payment)
            values["k_order_id"] = values.pop("order_id")
            items.append((payment.order_id, payment.version, values))
        if items:
            self._update(PAYMENT_UPDATE, items)
