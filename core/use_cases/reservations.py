"""Ending the reservations an order holds: released on cancel, committed on ship."""

from __future__ import annotations

from collections.abc import Callable

from core.domain.orders import Order
from core.domain.stock import Reservation, StockItem
from core.ports.unit_of_work import UnitOfWork


def _end_reservations(
    uow: UnitOfWork, order: Order, end: Callable[[StockItem, Reservation], int]
) -> None:
    """End every reservation `order` holds, once: `end` is StockItem.release or .commit.

    The caller holds the order's row lock and has just moved it out of a state that
    holds stock, so no other transaction ends these reservations meanwhile (and the
    repository refuses to remove one twice). Stock is locked in SKU order."""
    held = uow.reservations.of_order(order.id)
    stock = uow.stock.get_many(sorted(held))
    for sku in sorted(held):
        end(stock[sku], held[sku])
        uow.stock.save(stock[sku])
        uow.reservations.save(held[sku])


def release_reservations(uow: UnitOfWork, order: Order) -> None:
    """Cancelling: the order's reserved units become available again."""
    _end_reservations(uow, order, StockItem.release)


def commit_reservations(uow: UnitOfWork, order: Order) -> None:
    """Shipping: the order's reserved units leave the warehouse."""
    _end_reservations(uow, order, StockItem.commit)
