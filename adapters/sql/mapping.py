"""Explicit mapping between rows and aggregates: plain functions, no ORM instrumentation.

Each aggregate has a `*_from_row` (rows in, domain object out) and a `*_values`
(domain object in, column values out). Domain classes stay plain Python; see
adapters/sql/README.md for why this beats an ORM session here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.domain.catalog import Product
from core.domain.events import EventEnvelope
from core.domain.idempotency import IdempotencyRecord
from core.domain.money import Money
from core.domain.orders import CancelReason, Order, OrderLine, OrderStatus
from core.domain.payments import Payment, PaymentStatus
from core.domain.principals import Principal, Role
from core.ports.queries import OrderLineView, OrderView, PrincipalView, ProductView

Row = Mapping[Any, Any]  # a RowMapping, or any dict of column values


def product_from_row(row: Row) -> Product:
    return Product(
        sku=row["sku"],
        name=row["name"],
        price=Money(row["price"], row["currency"]),
        active=row["active"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def product_values(product: Product) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "name": product.name,
        "price": product.price.amount,
        "currency": product.price.currency,
        "active": product.active,
        "version": product.version,
        "created_at": product.created_at,
        "updated_at": product.updated_at,
    }


def order_from_rows(row: Row, lines: Iterable[Row]) -> Order:
    return Order(
        id=row["id"],
        customer_id=row["customer_id"],
        lines=[OrderLine(ln["sku"], ln["quantity"], ln["unit_price"]) for ln in lines],
        currency=row["currency"],
        status=OrderStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        cancel_reason=CancelReason(row["cancel_reason"]) if row["cancel_reason"] else None,
        version=row["version"],
    )


def order_values(order: Order) -> dict[str, Any]:
    """The mutable part of an order row (lines never change after placement)."""
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "status": order.status.value,
        "currency": order.currency,
        "total": order.total.amount,
        "cancel_reason": order.cancel_reason.value if order.cancel_reason else None,
        "created_at": order.created_at,
        "updated_at": order.updated_at,
        "version": order.version,
    }


def order_line_values(order: Order) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order.id,
            "position": position,
            "sku": line.sku,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
        }
        for position, line in enumerate(order.lines)
    ]


def order_view_from_rows(row: Row, lines: Iterable[Row]) -> OrderView:
    line_views = [
        OrderLineView(
            ln["sku"], ln["quantity"], ln["unit_price"], ln["quantity"] * ln["unit_price"]
        )
        for ln in lines
    ]
    return OrderView(
        id=row["id"],
        customer_id=row["customer_id"],
        status=row["status"],
        lines=line_views,
        total=sum(ln.line_total for ln in line_views),
        currency=row["currency"],
        cancel_reason=row["cancel_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def payment_from_row(row: Row) -> Payment:
    return Payment(
        order_id=row["order_id"],
        amount=row["amount"],
        currency=row["currency"],
        charge_id=row["charge_id"],
        status=PaymentStatus(row["status"]),
        created_at=row["created_at"],
        refund_id=row["refund_id"],
        refunded_at=row["refunded_at"],
        version=row["version"],
    )


def payment_values(payment: Payment) -> dict[str, Any]:
    return {
        "order_id": payment.order_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "charge_id": payment.charge_id,
        "status": payment.status.value,
        "created_at": payment.created_at,
        "refund_id": payment.refund_id,
        "refunded_at": payment.refunded_at,
        "version": payment.version,
    }


def principal_from_row(row: Row) -> Principal:
    return Principal(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        key_hash=row["key_hash"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        version=row["version"],
    )


def principal_values(principal: Principal) -> dict[str, Any]:
    return {
        "id": principal.id,
        "name": principal.name,
        "role": principal.role.value,
        "key_hash": principal.key_hash,
        "created_at": principal.created_at,
        "revoked_at": principal.revoked_at,
        "version": principal.version,
    }


def principal_view_from_row(row: Row) -> PrincipalView:
    return PrincipalView(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        active=row["revoked_at"] is None,
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


def idempotency_from_row(row: Row) -> IdempotencyRecord:
    return IdempotencyRecord(
        principal_id=row["principal_id"],
        key=row["key"],
        fingerprint=row["fingerprint"],
        order_id=row["order_id"],
        response=dict(row["response"]),
        created_at=row["created_at"],
    )


def idempotency_values(record: IdempotencyRecord) -> dict[str, Any]:
    return {
        "principal_id": record.principal_id,
        "key": record.key,
        "fingerprint": record.fingerprint,
        "order_id": record.order_id,
        "response": record.response,
        "created_at": record.created_at,
    }


def product_view_from_row(row: Row) -> ProductView:
    on_hand, reserved = row["on_hand"], row["reserved"]
    return ProductView(
        sku=row["sku"],
        name=row["name"],
        price=row["price"],
        currency=row["currency"],
        active=row["active"],
        available=(on_hand - reserved) if on_hand is not None else 0,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


def envelope_from_row(row: Row) -> EventEnvelope:
    return EventEnvelope(
        event_id=row["event_id"],
        type=row["type"],
        subject=row["subject"],
        occurred_at=row["occurred_at"],
        correlation_id=row["correlation_id"],
        schema_version=row["schema_version"],
        payload=dict(row["payload"]),
    )


def envelope_values(envelope: EventEnvelope) -> dict[str, Any]:
    return {
        "event_id": envelope.event_id,
        "type": envelope.type,
        "subject": envelope.subject,
        "occurred_at": envelope.occurred_at,
        "correlation_id": envelope.correlation_id,
        "schema_version": envelope.schema_version,
        "payload": envelope.payload,
    }
