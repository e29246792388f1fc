"""In-memory webhook store: the same behaviour as the SQL one (contract tests)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from adapters.memory.store import MemoryStore
from core.domain.events import EventEnvelope
from core.domain.webhooks import (
    Attempt,
    CatchUp,
    Circuit,
    Delivery,
    DeliveryStatus,
    DeliveryTask,
    Subscription,
)
from core.ports.webhooks import WebhookStats


@dataclass
class _Row:
    position: int
    delivery: Delivery
    claimed_until: datetime | None = None


class MemoryWebhookStore:
    def __init__(self, events: MemoryStore) -> None:
        self._events = events  # the outbox, for the fan-out's catch-up
        self._lock = threading.RLock()
        self._subscriptions: dict[str, Subscription] = {}
        self._rows: dict[str, _Row] = {}
        self._position = 0

    # Subscriptions.
    def add_subscription(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions[subscription.id] = subscription

    def get_subscription(self, subscription_id: str) -> Subscription | None:
        with self._lock:
            return self._subscriptions.get(subscription_id)

    def update_subscription(self, subscription: Subscription) -> bool:
        with self._lock:
            current = self._subscriptions.get(subscription.id)
            if current is None:
                return False
            self._subscriptions[subscription.id] = replace(subscription, circuit=current.circuit)
            return True

    def delete_subscription(self, subscription_id: str) -> bool:
        with self._lock:
            if self._subscriptions.pop(subscription_id, None) is None:
                return False
            for key in [
                k for k, r in self._rows.items() if r.delivery.subscription_id == subscription_id
            ]:
                del self._rows[key]
            return True

    def list_subscriptions(
        self, after: tuple[datetime, str] | None, limit: int
    ) -> list[Subscription]:
        with self._lock:
            ordered = sorted(self._subscriptions.values(), key=lambda s: (s.created_at, s.id))
        if after is not None:
            ordered = [s for s in ordered if (s.created_at, s.id) > after]
        return ordered[:limit]

    def active_subscriptions(self) -> list[Subscription]:
        with self._lock:
            return [s for s in self._subscriptions.values() if s.active]

    # Deliveries.
    def add_deliveries(self, deliveries: Sequence[Delivery]) -> int:
        added = 0
        with self._lock:
            for delivery in deliveries:
                if delivery.id in self._rows or delivery.subscription_id not in self._subscriptions:
                    continue
                self._position += 1
                self._rows[delivery.id] = _Row(self._position, delivery)
                added += 1
        return added

    def missed_events(self, query: CatchUp) -> list[EventEnvelope]:
        with self._events.lock:
            rows = list(self._events.outbox)
        with self._lock:
            delivered = {
                r.delivery.event_id
                for r in self._rows.values()
                if r.delivery.subscription_id == query.subscription_id
            }
        found = [
            (r.envelope.occurred_at, r.position, r.envelope)
            for r in rows
            if r.envelope.subject in query.subjects
            and query.since <= r.envelope.occurred_at <= query.until
            and (query.types is None or r.envelope.type in query.types)
            and r.envelope.event_id not in query.known
            and r.envelope.event_id not in delivered
        ]
        return [envelope for _, _, envelope in sorted(found, key=lambda x: (x[0], x[1]))]

    def due(self, now: datetime, limit: int) -> list[DeliveryTask]:
        with self._lock:
            pending = sorted(
                (r for r in self._rows.values() if r.delivery.status is DeliveryStatus.PENDING),
                key=lambda r: (r.delivery.occurred_at, r.position),
            )
            heads: dict[tuple[str, str], _Row] = {}
            for row in pending:
                heads.setdefault((row.delivery.subscription_id, row.delivery.subject), row)
            tasks: list[DeliveryTask] = []
            for row in sorted(heads.values(), key=lambda r: r.position):
                d = row.delivery
                subscription = self._subscriptions.get(d.subscription_id)
                if subscription is None or not subscription.active:
                    continue
                open_until = subscription.circuit.open_until
                if open_until is not None and open_until > now:
                    continue
                if d.next_attempt_at > now:
                    continue
                if row.claimed_until is not None and row.claimed_until >= now:
                    continue
                secrets = [subscription.secret]
                if subscription.previous_secret is not None:
                    secrets.append(subscription.previous_secret)
                tasks.append(
                    DeliveryTask(d, subscription.url, tuple(secrets), subscription.circuit)
                )
                if len(tasks) == limit:
                    break
            return tasks

    def claim(self, delivery_ids: Sequence[str], now: datetime, until: datetime) -> list[str]:
        won: list[str] = []
        with self._lock:
            for delivery_id in delivery_ids:
                row = self._rows.get(delivery_id)
                if row is None or row.delivery.status is not DeliveryStatus.PENDING:
                    continue
                if row.claimed_until is not None and row.claimed_until >= now:
                    continue
                row.claimed_until = until
                won.append(delivery_id)
        return won

    def record(self, delivery_id: str, attempt: Attempt) -> None:
        with self._lock:
            row = self._rows.get(delivery_id)
            if row is None:
                return
            row.claimed_until = None
            row.delivery = replace(row.delivery, **attempt.changes())

    def start_probe(self, subscription_id: str, open_until: datetime, until: datetime) -> bool:
        with self._lock:
            subscription = self._subscriptions.get(subscription_id)
            if subscription is None or subscription.circuit.open_until != open_until:
                return False
            self._set_circuit(subscription, replace(subscription.circuit, open_until=until))
            return True

    def circuit_failed(self, subscription_id: str) -> int:
        with self._lock:
            subscription = self._subscriptions.get(subscription_id)
            if subscription is None:
                return 0
            streak = subscription.circuit.failure_streak + 1
            self._set_circuit(subscription, replace(subscription.circuit, failure_streak=streak))
            return streak

    def open_circuit(self, subscription_id: str, until: datetime) -> None:
        with self._lock:
            subscription = self._subscriptions.get(subscription_id)
            if subscription is not None:
                self._set_circuit(subscription, replace(subscription.circuit, open_until=until))

    def circuit_succeeded(self, subscription_id: str) -> None:
        with self._lock:
            subscription = self._subscriptions.get(subscription_id)
            if subscription is not None:
                self._set_circuit(subscription, Circuit())

    def _set_circuit(self, subscription: Subscription, circuit: Circuit) -> None:
        self._subscriptions[subscription.id] = replace(subscription, circuit=circuit)

    # The delivery log.
    def get_delivery(self, subscription_id: str, delivery_id: str) -> Delivery | None:
        with self._lock:
            row = self._rows.get(delivery_id)
        if row is None or row.delivery.subscription_id != subscription_id:
            return None
        return row.delivery

    def deliveries(
        self,
        subscription_id: str,
        status: DeliveryStatus | None,
        before: int | None,
        limit: int,
    ) -> list[tuple[int, Delivery]]:
        with self._lock:
            rows = [
                r
                for r in self._rows.values()
                if r.delivery.subscription_id == subscription_id
                and (status is None or r.delivery.status is status)
                and (before is None or r.position < before)
            ]
        rows.sort(key=lambda r: r.position, reverse=True)
        return [(r.position, r.delivery) for r in rows[:limit]]

    def delivery_counts(self, subscription_id: str) -> dict[DeliveryStatus, int]:
        counts = dict.fromkeys(DeliveryStatus, 0)
        with self._lock:
            for row in self._rows.values():
                if row.delivery.subscription_id == subscription_id:
                    counts[row.delivery.status] += 1
        return counts

    def redeliver(
        self, subscription_id: str, delivery_ids: Sequence[str] | None, now: datetime
    ) -> int:
        changed = 0
        with self._lock:
            for row in self._rows.values():
                d = row.delivery
                if d.subscription_id != subscription_id:
                    continue
                if delivery_ids is None and d.status is not DeliveryStatus.FAILED:
                    continue
                if delivery_ids is not None and d.id not in delivery_ids:
                    continue
                # A pending one keeps its schedule's limit and is just due now; a
                # finished one gets one more attempt.
                limit = d.attempt_limit if d.status is DeliveryStatus.PENDING else d.attempts + 1
                row.delivery = replace(
                    d,
                    status=DeliveryStatus.PENDING,
                    next_attempt_at=now,
                    attempt_limit=limit,
                    updated_at=now,
                )
                changed += 1
        return changed

    def stats(self) -> WebhookStats:
        with self._lock:
            pending = [
                r.delivery.created_at
                for r in self._rows.values()
                if r.delivery.status is DeliveryStatus.PENDING
            ]
            open_circuits = sum(
                1 for s in self._subscriptions.values() if s.circuit.open_until is not None
            )
        return WebhookStats(len(pending), min(pending, default=None), open_circuits)
