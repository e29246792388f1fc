"""The webhook sender's two reads: which deliveries are due (the head of each
subscription's per-subject chain), and which committed events a fan-out must
catch up (core/domain/webhooks.py, CatchUp)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import RowMapping, Select, and_, exists, literal_column, or_, select

from adapters.sql.tables import outbox as o
from adapters.sql.tables import webhook_deliveries as d
from adapters.sql.tables import webhook_subscriptions as s
from adapters.sql.webhook_rows import delivery_from_row
from core.domain.webhooks import CatchUp, Circuit, DeliveryStatus, DeliveryTask, Secret

PENDING = DeliveryStatus.PENDING.value
# Written as a literal, not a bound parameter: SQLite uses the partial index of pending
# rows only when the WHERE clause states its condition itself (the log keeps every
# delivery, so a scan would grow with the history).
IS_PENDING = d.c.status == literal_column(f"'{PENDING}'")
_earlier = d.alias("earlier")


def due_statement(now: datetime, limit: int) -> Select[tuple[object, ...]]:
    """Pending, due, unclaimed deliveries of active subscriptions whose circuit lets
    them through, with no earlier pending delivery of the same subject."""
    earlier_pending = exists().where(
        _earlier.c.subscription_id == d.c.subscription_id,
        _earlier.c.subject == d.c.subject,
        _earlier.c.status == PENDING,
        or_(
            _earlier.c.occurred_at < d.c.occurred_at,
            and_(
                _earlier.c.occurred_at == d.c.occurred_at,
                _earlier.c.position < d.c.position,
            ),
        ),
    )
    return (
        select(
            d,
            s.c.url,
            s.c.secret,
            s.c.previous_secret,
            s.c.previous_secret_expires_at,
            s.c.failure_streak,
            s.c.circuit_open_until,
        )
        .join(s, s.c.id == d.c.subscription_id)
        .where(
            IS_PENDING,
            d.c.next_attempt_at <= now,
            or_(d.c.claimed_until.is_(None), d.c.claimed_until < now),
            s.c.active.is_(True),
            or_(s.c.circuit_open_until.is_(None), s.c.circuit_open_until <= now),
            ~earlier_pending,
        )
        # `+ 0`: left to itself SQLite walks the whole table in position order to avoid
        # a sort; the pending rows (the partial index) are few, the history is not.
        .order_by(d.c.position + 0)
        .limit(limit)
    )


def task_from_row(row: RowMapping) -> DeliveryTask:
    secrets = [Secret(row["secret"])]
    if row["previous_secret"] is not None:
        secrets.append(Secret(row["previous_secret"], row["previous_secret_expires_at"]))
    circuit = Circuit(row["failure_streak"], row["circuit_open_until"])
    return DeliveryTask(delivery_from_row(row), row["url"], tuple(secrets), circuit)


def missed_statement(query: CatchUp) -> Select[tuple[object, ...]]:
    delivered = exists().where(
        d.c.subscription_id == query.subscription_id,
        d.c.subject == o.c.subject,
        d.c.occurred_at == o.c.occurred_at,  # the whole chain index, then the id
        d.c.event_id == o.c.event_id,
    )
    statement = (
        select(o)
        .where(
            o.c.subject.in_(query.subjects),
            o.c.occurred_at >= query.since,
            o.c.occurred_at <= query.until,
            ~delivered,
        )
        .order_by(o.c.occurred_at, o.c.position)
    )
    if query.types is not None:
        statement = statement.where(o.c.type.in_(query.types))
    if query.known:
        statement = statement.where(o.c.event_id.not_in(sorted(query.known)))
    return statement
