"""Webhooks: subscriptions of outside endpoints to domain events, and the rules of
delivering to them (docs/api.md, Webhooks).

Everything here is plain data and pure functions: which event goes to which
subscription, the body, the per-subject catch-up, the retry schedule with jitter
and the circuit breaker's states. Signatures are in webhook_signing.py, what a
subscription may ask for (events, URL, the network-safety rule) in
webhook_validation.py. The use cases (core/use_cases/webhooks.py,
webhook_delivery.py) apply them; adapters store and send.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from core.domain.backoff import backoff
from core.domain.events import EventEnvelope

SECRET_PREFIX = "whsec_"
WILDCARD = "*"
MAX_URL_LENGTH = 2048
MAX_DESCRIPTION_LENGTH = 500
# After a rotation the previous secret keeps signing for this long.
ROTATION_OVERLAP = timedelta(hours=24)
# At most this much of a receiver's answer is read, and this much is kept in the log.
MAX_RESPONSE_BYTES = 64 * 1024
MAX_LOGGED_ERROR = 500
# Retry delays never exceed this, whatever the base and the attempt.
MAX_RETRY_DELAY_SECONDS = 3600.0
# The jitter: each delay is multiplied by a factor drawn from [1 - J, 1 + J].
JITTER = 0.2
# Namespace of the deterministic delivery ids (uuid5 of subscription and event).
_DELIVERY_NAMESPACE = uuid.UUID("6f1d4c1e-8a3b-4d7e-9a51-0c8e2f4b7a90")


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class Secret:
    """A signing secret; `expires_at` is set on the previous one during a rotation."""

    value: str
    expires_at: datetime | None = None

    def valid_at(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class Circuit:
    """A subscription's breaker: consecutive failed attempts, and until when it is open."""

    failure_streak: int = 0
    open_until: datetime | None = None

    def state(self, now: datetime) -> CircuitState:
        if self.open_until is None:
            return CircuitState.CLOSED
        return CircuitState.OPEN if now < self.open_until else CircuitState.HALF_OPEN


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    events: tuple[str, ...]
    description: str
    active: bool
    secret: Secret
    previous_secret: Secret | None
    created_at: datetime
    updated_at: datetime
    circuit: Circuit = field(default_factory=Circuit)

    def wants(self, event_type: str) -> bool:
        """Which events go to this subscription: active, and the type (or `*`) listed."""
        return self.active and (WILDCARD in self.events or event_type in self.events)

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, and the previous one while its overlap lasts."""
        secrets = [self.secret.value]
        if self.previous_secret is not None and self.previous_secret.valid_at(now):
            secrets.append(self.previous_secret.value)
        return secrets

    def rotated(self, new_secret: str, now: datetime) -> Subscription:
        return replace(
            self,
            secret=Secret(new_secret),
            previous_secret=Secret(self.secret.value, now + ROTATION_OVERLAP),
            updated_at=now,
        )


@dataclass(frozen=True)
class Delivery:
    """One event to one subscription; its id is the `Orderly-Delivery-Id`."""

    id: str
    subscription_id: str
    event_id: str
    event_type: str
    subject: str
    occurred_at: datetime
    body: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    # None: the configured ORDERLY_WEBHOOK_MAX_ATTEMPTS. A redelivery sets attempts + 1.
    attempt_limit: int | None = None
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class DeliveryTask:
    """A due delivery with what sending it needs from its subscription."""

    delivery: Delivery
    url: str
    secrets: tuple[Secret, ...]
    circuit: Circuit


@dataclass(frozen=True)
class Attempt:
    """What one attempt changes in a delivery's log entry."""

    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    at: datetime
    status_code: int | None
    error: str | None

    def changes(self) -> dict[str, Any]:
        """The delivery fields it sets, by name: what every store writes."""
        return {
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at,
            "last_attempt_at": self.at,
            "last_status_code": self.status_code,
            "last_error": self.error,
            "updated_at": self.at,
        }


# --- which events, and the body ------------------------------------------------


def delivery_id(subscription_id: str, event_id: str) -> str:
    """Deterministic, so that a replayed event never makes a second delivery."""
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{subscription_id}/{event_id}"))


def body_of(envelope: EventEnvelope) -> str:
    """The JSON body: stored once, so that every attempt sends the same bytes."""
    document = {
        "id": envelope.event_id,
        "type": envelope.type,
        "occurred_at": envelope.occurred_at.isoformat(),
        "subject": envelope.subject,
        "schema_version": envelope.schema_version,
        "data": envelope.payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def new_delivery(subscription: Subscription, envelope: EventEnvelope, now: datetime) -> Delivery:
    return Delivery(
        id=delivery_id(subscription.id, envelope.event_id),
        subscription_id=subscription.id,
        event_id=envelope.event_id,
        event_type=envelope.type,
        subject=envelope.subject,
        occurred_at=envelope.occurred_at,
        body=body_of(envelope),
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


# Per-subject order across a broker that redelivers out of order: a fan-out also makes
# the deliveries of earlier committed events of its subjects that have none yet (a
# fan-out message requeued behind later ones), in the same write. Redeliveries come
# within minutes; the window keeps that lookup to a handful of rows.
CATCH_UP_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class CatchUp:
    """A fan-out's question to the store: the committed events of `subjects` (of `types`,
    None for any) that occurred in [since, until] with no delivery to the subscription
    yet, leaving out the batch's own events (`known`)."""

    subscription_id: str
    subjects: tuple[str, ...]
    types: tuple[str, ...] | None
    since: datetime
    until: datetime
    known: frozenset[str]


def catch_up(subscription: Subscription, wanted: Sequence[EventEnvelope]) -> CatchUp:
    """Events from before the subscription last changed (created, edited, re-enabled)
    were matched by the rules of their time and are not caught up."""
    until = max(e.occurred_at for e in wanted)
    return CatchUp(
        subscription_id=subscription.id,
        subjects=tuple(sorted({e.subject for e in wanted})),
        types=None if WILDCARD in subscription.events else subscription.events,
        since=max(subscription.updated_at, until - CATCH_UP_WINDOW),
        until=until,
        known=frozenset(e.event_id for e in wanted),
    )


def deliveries_for(
    subscriptions: Iterable[Subscription], envelope: EventEnvelope, now: datetime
) -> list[Delivery]:
    return [new_delivery(s, envelope, now) for s in subscriptions if s.wants(envelope.type)]


# --- retries and the breaker ------------------------------------------------------


def retry_delay(failed_attempts: int, base_seconds: float, unit_random: float) -> float:
    """base * 2^(n-1) after the n-th failed attempt, times a jitter factor in
    [1 - JITTER, 1 + JITTER] drawn from `unit_random` in [0, 1); capped at an hour."""
    delay = backoff(failed_attempts, base_seconds, MAX_RETRY_DELAY_SECONDS)
    factor = 1.0 + JITTER * (2.0 * unit_random - 1.0)
    return max(0.0, delay * factor)


def after_success(delivery: Delivery, now: datetime, status_code: int) -> Attempt:
    return Attempt(DeliveryStatus.SUCCEEDED, delivery.attempts + 1, now, now, status_code, None)


def after_failure(
    delivery: Delivery,
    now: datetime,
    status_code: int | None,
    error: str,
    max_attempts: int,
    base_seconds: float,
    unit_random: float,
) -> Attempt:
    """Retry later with backoff, or `failed` once the attempts are spent."""
    attempts = delivery.attempts + 1
    limit = delivery.attempt_limit or max_attempts
    if attempts >= limit:
        status, next_at = DeliveryStatus.FAILED, now
    else:
        delay = retry_delay(attempts, base_seconds, unit_random)
        status, next_at = DeliveryStatus.PENDING, now + timedelta(seconds=delay)
    return Attempt(status, attempts, next_at, now, status_code, error[:MAX_LOGGED_ERROR])


def is_success(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def as_dict(subscription: Subscription) -> dict[str, Any]:
    """The subscription without its secrets (for logs)."""
    return {
        "id": subscription.id,
        "url": subscription.url,
        "events": list(subscription.events),
        "active": subscription.active,
    }
