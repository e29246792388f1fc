"""The webhook store on SQLAlchemy (SQLite and PostgreSQL).

Every method is one short transaction of its own: the sender claims due
deliveries with a lease (a conditional UPDATE, so concurrent senders in several
processes win disjoint sets), sends with no transaction open, then records the
outcome. A sender that dies loses nothing: its lease runs out and the delivery
is due again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    and_,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from adapters.sql.database import SqlDatabase
from adapters.sql.mapping import envelope_from_row
from adapters.sql.tables import webhook_deliveries as d
from adapters.sql.tables import webhook_subscriptions as s
from adapters.sql.webhook_queries import (
    IS_PENDING,
    PENDING,
    due_statement,
    missed_statement,
    task_from_row,
)
from adapters.sql.webhook_rows import (
    delivery_from_row,
    delivery_values,
    subscription_from_row,
    subscription_values,
)
from core.domain.events import EventEnvelope
from core.domain.webhooks import (
    Attempt,
    CatchUp,
    Delivery,
    DeliveryStatus,
    DeliveryTask,
    Subscription,
)
from core.ports.webhooks import WebhookStats


class SqlWebhookStore:
    def __init__(self, database: SqlDatabase) -> None:
        self._db = database

    # Subscriptions.
    def add_subscription(self, subscription: Subscription) -> None:
        values = subscription_values(subscription) | {
            "id": subscription.id,
            "created_at": subscription.created_at,
            "failure_streak": subscription.circuit.failure_streak,
            "circuit_open_until": subscription.circuit.open_until,
        }
        with self._db.write() as conn:
            conn.execute(s.insert().values(**values))

    def get_subscription(self, subscription_id: str) -> Subscription | None:
        with self._db.read(snapshot=False) as conn:
            row = conn.execute(select(s).where(s.c.id == subscription_id)).mappings().first()
        return None if row is None else subscription_from_row(row)

    def update_subscription(self, subscription: Subscription) -> bool:
        with self._db.write() as conn:
            result = conn.execute(
                update(s)
                .where(s.c.id == subscription.id)
                .values(**subscription_values(subscription))
            )
            return result.rowcount > 0

    def delete_subscription(self, subscription_id: str) -> bool:
        with self._db.write() as conn:
            conn.execute(delete(d).where(d.c.subscription_id == subscription_id))
            return conn.execute(delete(s).where(s.c.id == subscription_id)).rowcount > 0

    def list_subscriptions(
        self, after: tuple[datetime, str] | None, limit: int
    ) -> list[Subscription]:
        query = select(s).order_by(s.c.created_at, s.c.id).limit(limit)
        if after is not None:
            at, key = after
            query = query.where(or_(s.c.created_at > at, and_(s.c.created_at == at, s.c.id > key)))
        with self._db.read(snapshot=False) as conn:
            return [subscription_from_row(row) for row in conn.execute(query).mappings()]

    def active_subscriptions(self) -> list[Subscription]:
        with self._db.read(snapshot=False) as conn:
            rows = conn.execute(select(s).where(s.c.active.is_(True))).mappings().all()
        return [subscription_from_row(row) for row in rows]

    # Deliveries.
    def add_deliveries(self, deliveries: Sequence[Delivery]) -> int:
        if not deliveries:
            return 0
        wanted = sorted({x.subscription_id for x in deliveries})
        added = 0
        with self._db.write() as conn:
            # Lock the subscriptions against a concurrent delete (PostgreSQL), and skip
            # deliveries to one that is gone.
            alive_query = select(s.c.id).where(s.c.id.in_(wanted))
            if not self._db.is_sqlite:
                alive_query = alive_query.with_for_update(key_share=True)
            alive = set(conn.execute(alive_query).scalars())
            for delivery in deliveries:
                if delivery.subscription_id not in alive:
                    continue
                added += len(conn.execute(self._insert_new(delivery)).all())
        return added

    def _insert_new(self, delivery: Delivery) -> Any:
        values = delivery_values(delivery)
        if self._db.is_sqlite:
            return sqlite.insert(d).values(**values).on_conflict_do_nothing().returning(d.c.id)
        return postgresql.insert(d).values(**values).on_conflict_do_nothing().returning(d.c.id)

    def missed_events(self, query: CatchUp) -> list[EventEnvelope]:
        with self._db.read(snapshot=False) as conn:
            rows = conn.execute(missed_statement(query)).mappings().all()
        return [envelope_from_row(row) for row in rows]

    def due(self, now: datetime, limit: int) -> list[DeliveryTask]:
        with self._db.read(snapshot=False) as conn:
            rows = conn.execute(due_statement(now, limit)).mappings().all()
        return [task_from_row(row) for row in rows]

    def claim(self, delivery_ids: Sequence[str], now: datetime, until: datetime) -> list[str]:
        if not delivery_ids:
            return []
        statement = (
            update(d)
            .where(
                d.c.id.in_(list(delivery_ids)),
                d.c.status == PENDING,
                or_(d.c.claimed_until.is_(None), d.c.claimed_until < now),
            )
            .values(claimed_until=until)
            .returning(d.c.id)
        )
        with self._db.write() as conn:
            return list(conn.execute(statement).scalars())

    def record(self, delivery_id: str, attempt: Attempt) -> None:
        with self._db.write() as conn:
            conn.execute(
                update(d)
                .where(d.c.id == delivery_id)
                # The status column holds the enum's value; the claim is released.
                .values(attempt.changes() | {"status": attempt.status.value, "claimed_until": None})
            )

    def start_probe(self, subscription_id: str, open_until: datetime, until: datetime) -> bool:
        with self._db.write() as conn:
            result = conn.execute(
                update(s)
                .where(s.c.id == subscription_id, s.c.circuit_open_until == open_until)
                .values(circuit_open_until=until)
            )
            return result.rowcount > 0

    def circuit_failed(self, subscription_id: str) -> int:
        with self._db.write() as conn:
            streak = conn.execute(
                update(s)
                .where(s.c.id == subscription_id)
                .values(failure_streak=s.c.failure_streak + 1)
                .returning(s.c.failure_streak)
            ).scalar()
        return int(streak or 0)

    def open_circuit(self, subscription_id: str, until: datetime) -> None:
        with self._db.write() as conn:
            conn.execute(
                update(s).where(s.c.id == subscription_id).values(circuit_open_until=until)
            )

    def circuit_succeeded(self, subscription_id: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                update(s)
                .where(
                    s.c.id == subscription_id,
                    or_(s.c.failure_streak != 0, s.c.circuit_open_until.is_not(None)),
                )
                .values(failure_streak=0, circuit_open_until=None)
            )

    # The delivery log.
    def get_delivery(self, subscription_id: str, delivery_id: str) -> Delivery | None:
        query = select(d).where(d.c.id == delivery_id, d.c.subscription_id == subscription_id)
        with self._db.read(snapshot=False) as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else delivery_from_row(row)

    def deliveries(
        self,
        subscription_id: str,
        status: DeliveryStatus | None,
        before: int | None,
        limit: int,
    ) -> list[tuple[int, Delivery]]:
        query = (
            select(d)
            .where(d.c.subscription_id == subscription_id)
            .order_by(d.c.position.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(d.c.status == status.value)
        if before is not None:
            query = query.where(d.c.position < before)
        with self._db.read(snapshot=False) as conn:
            rows = conn.execute(query).mappings().all()
        return [(int(row["position"]), delivery_from_row(row)) for row in rows]

    def delivery_counts(self, subscription_id: str) -> dict[DeliveryStatus, int]:
        query = (
            select(d.c.status, func.count())
            .where(d.c.subscription_id == subscription_id)
            .group_by(d.c.status)
        )
        counts = dict.fromkeys(DeliveryStatus, 0)
        with self._db.read(snapshot=False) as conn:
            for status, count in conn.execute(query):
                counts[DeliveryStatus(status)] = int(count)
        return counts

    def redeliver(
        self, subscription_id: str, delivery_ids: Sequence[str] | None, now: datetime
    ) -> int:
        which = (
            d.c.status == DeliveryStatus.FAILED.value
            if delivery_ids is None
            else d.c.id.in_(list(delivery_ids))
        )
        statement = (
            update(d)
            .where(d.c.subscription_id == subscription_id, which)
            .values(
                status=PENDING,
                next_attempt_at=now,
                updated_at=now,
                # A pending one keeps its schedule's limit; a finished one gets one more.
                attempt_limit=case(
                    (d.c.status == PENDING, d.c.attempt_limit), else_=d.c.attempts + 1
                ),
            )
        )
        with self._db.write() as conn:
            return int(conn.execute(statement).rowcount)

    def stats(self) -> WebhookStats:
        pending = select(func.count(), func.min(d.c.created_at)).where(IS_PENDING)
        open_circuits = select(func.count()).where(s.c.circuit_open_until.is_not(None))
        with self._db.read() as conn:
            count, oldest = conn.execute(pending).one()
            circuits = conn.execute(open_circuits).scalar_one()
        return WebhookStats(int(count), oldest, int(circuits))
