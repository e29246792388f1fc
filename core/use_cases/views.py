"""Aggregates to view rows, and view rows to plain dicts (for idempotent replays)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.domain.orders import Order
from core.ports.queries import OrderLineView, OrderView


def order_view(order: Order) -> OrderView:
    return OrderView(
        id=order.id,
        customer_id=order.customer_id,
        status=order.status.value,
        lines=[
            OrderLineView(ln.sku, ln.quantity, ln.unit_price, ln.line_total) for ln in order.lines
        ],
        total=order.total.amount,
        currency=order.currency,
        cancel_reason=order.cancel_reason.value if order.cancel_reason else None,
        created_at=order.created_at,
        updated_at=order.updated_at,
        version=order.version,
    )


def order_view_to_dict(view: OrderView) -> dict[str, Any]:
    return {
        "id": view.id,
        "customer_id": view.customer_id,
        "status": view.status,
        "lines": [
            {
                "sku": ln.sku,
                "quantity": ln.quantity,
                "unit_price": ln.unit_price,
                "line_total": ln.line_total,
            }
            for ln in view.lines
        ],
        "total": view.total,
        "currency": view.currency,
        "cancel_reason": view.cancel_reason,
        "created_at": view.created_at.isoformat(),
        "updated_at": view.updated_at.isoformat(),
        "version": view.version,
    }


def order_view_from_dict(data: dict[str, Any]) -> OrderView:
    return OrderView(
        id=data["id"],
        customer_id=data["customer_id"],
        status=data["status"],
        lines=[OrderLineView(**ln) for ln in data["lines"]],
        total=data["total"],
        currency=data["currency"],
        cancel_reason=data["cancel_reason"],
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
        version=data["version"],
    )
