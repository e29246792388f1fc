"""Aggregates to view rows, and view rows to plain dicts (for idempotent replays)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.ports.queries import OrderLineView, OrderView
from core.ports.queries import order_view as order_view


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
