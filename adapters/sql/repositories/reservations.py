"""Reservations: one row per (SKU, order), loaded by order, written through the queue."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Executable

from adapters.sql.prepared import select_rows
from adapters.sql.repositories.statements import (
    RESERVATION_DELETE,
    RESERVATION_INSERT,
    RESERVATION_UPDATE,
    RESERVATIONS_OF_ORDER,
)
from adapters.sql.repositories.write_queue import WriteQueue
from core.domain.stock import Reservation

_TABLE = "reservations"  # the write queue's name for these rows, keyed by order id


class SqlReservationRepository:
    """Writes wait in the unit of work's WriteQueue, after the stock rows they refer
    to (placing 3 lines sends one INSERT batch); an UPDATE or DELETE that matches no
    row there is a ConcurrencyConflict (statements.ONE_ROW_EACH)."""

    def __init__(self, conn: Connection, queue: WriteQueue) -> None:
        self._conn = conn
        self._queue = queue

    def of_order(self, order_id: str) -> dict[str, Reservation]:
        self._queue.flush_for(_TABLE, (order_id,))
        rows = select_rows(self._conn, RESERVATIONS_OF_ORDER, {"order_id": order_id})
        return {row["sku"]: Reservation(order_id, row["sku"], row["quantity"]) for row in rows}

    def add(self, reservation: Reservation) -> None:
        values = {
            "sku": reservation.sku,
            "order_id": reservation.order_id,
            "quantity": reservation.quantity,
        }
        self._put(reservation, RESERVATION_INSERT, values)

    def save(self, reservation: Reservation) -> None:
        values: dict[str, Any]
        if reservation.ended:
            values = {"sku": reservation.sku, "order_id": reservation.order_id}
            self._put(reservation, RESERVATION_DELETE, values)
        else:
            values = {
                "k_sku": reservation.sku,
                "k_order_id": reservation.order_id,
                "quantity": reservation.quantity,
            }
            self._put(reservation, RESERVATION_UPDATE, values)

    def _put(self, reservation: Reservation, statement: Executable, values: dict[str, Any]) -> None:
        self._queue.put(WriteQueue.RESERVATIONS, _TABLE, reservation.order_id, statement, values)
