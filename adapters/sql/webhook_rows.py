"""Webhook subscriptions and deliveries to and from their table rows (SQLite and
PostgreSQL). A delivery's columns are named as its fields; a subscription's secrets
and breaker are spread over several columns."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import RowMapping

from core.domain.webhooks import Circuit, Delivery, DeliveryStatus, Secret, Subscription

_DELIVERY_FIELDS = tuple(f.name for f in fields(Delivery))


def subscription_values(subscription: Subscription) -> dict[str, Any]:
    previous = subscription.previous_secret
    return {
        "url": subscription.url,
        "events": list(subscription.events),
        "description": subscription.description,
        "active": subscription.active,
        "secret": subscription.secret.value,
        "previous_secret": None if previous is None else previous.value,
        "previous_secret_expires_at": None if previous is None else previous.expires_at,
        "updated_at": subscription.updated_at,
    }


def subscription_from_row(row: RowMapping) -> Subscription:
    previous = None
    if row["previous_secret"] is not None:
        previous = Secret(row["previous_secret"], row["previous_secret_expires_at"])
    return Subscription(
        id=row["id"],
        url=row["url"],
        events=tuple(row["events"]),
        description=row["description"],
        active=bool(row["active"]),
        secret=Secret(row["secret"]),
        previous_secret=previous,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        circuit=Circuit(row["failure_streak"], row["circuit_open_until"]),
    )


def delivery_values(delivery: Delivery) -> dict[str, Any]:
    values = {name: getattr(delivery, name) for name in _DELIVERY_FIELDS}
    values["status"] = delivery.status.value
    return values


def delivery_from_row(row: RowMapping) -> Delivery:
    values = {name: row[name] for name in _DELIVERY_FIELDS}
    values["status"] = DeliveryStatus(row["status"])
    return Delivery(**values)
