"""Small builders for contract tests: aggregates stored the way the use cases store them."""

from __future__ import annotations

from datetime import datetime

from core.domain.catalog import Product
from core.domain.money import Money
from core.domain.orders import Order, OrderLine
from core.domain.stock import StockItem
from core.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory


def add_product(
    uow_factory: UnitOfWorkFactory,
    now: datetime,
    sku: str,
    on_hand: int = 10,
    price: int = 100,
    active: bool = True,
) -> None:
    """A product and its stock item, as CreateProduct stores them."""
    with uow_factory() as uow:
        uow.products.add(Product.create(sku, f"Product {sku}", Money(price, "EUR"), active, now))
        item = StockItem(sku)
        if on_hand:
            item.set_on_hand(on_hand, now, "initial")
        uow.stock.add(item)
        uow.commit()


def reserve_and_place(
    uow: UnitOfWork,
    order_id: str,
    lines: dict[str, int],
    now: datetime,
    customer: str = "c1",
    lock: bool = True,
) -> Order:
    """Reserve every line and add the order (without committing); with `lock=False`
    the stock is read as PlaceOrder reads it, unlocked."""
    items = uow.stock.get_many(sorted(lines), lock=lock)
    for sku, quantity in lines.items():
        reservation = items[sku].reserve(order_id, quantity)
        uow.stock.save(items[sku])
        uow.reservations.add(reservation)
    order = Order.place(
        order_id,
        customer,
        [OrderLine(sku, quantity, 100) for sku, quantity in lines.items()],
        "EUR",
        now,
    )
    uow.orders.add(order)
    return order


def place(
    uow_factory: UnitOfWorkFactory,
    order_id: str,
    lines: dict[str, int],
    now: datetime,
    customer: str = "c1",
) -> Order:
    with uow_factory() as uow:
        order = reserve_and_place(uow, order_id, lines, now, customer)
        uow.commit()
    return order


def held(uow: UnitOfWork, order_id: str) -> dict[str, int]:
    """The quantities `order_id` holds, by SKU, as stored."""
    return {sku: r.quantity for sku, r in uow.reservations.of_order(order_id).items()}
