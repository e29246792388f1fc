"""The ports webhooks need: where subscriptions and deliveries live, how a host name
resolves, and how one HTTP request is sent.

The store is not part of the unit of work: each method is one short transaction
of its own, so the sender never holds a transaction across a remote call
(claim, send outside, record the outcome). Deliveries are created from committed
events by an outbox handler; their ids are deterministic, so a replay of the
same event adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.domain.events import EventEnvelope
from core.domain.webhooks import (
    Attempt,
    CatchUp,
    Delivery,
    DeliveryStatus,
    DeliveryTask,
    Subscription,
)


@dataclass(frozen=True)
class WebhookStats:
    pending: int
    oldest_pending_at: datetime | None
    open_circuits: int


class WebhookStore(Protocol):
    # Subscriptions.
    def add_subscription(self, subscription: Subscription) -> None: ...

    def get_subscription(self, subscription_id: str) -> Subscription | None: ...

    def update_subscription(self, subscription: Subscription) -> bool:
        """Write url, events, description, active and the secrets (never the circuit,
        which senders change concurrently). False if it no longer exists."""
        ...

    def delete_subscription(self, subscription_id: str) -> bool:
        """Remove it and every delivery to it. False if it did not exist."""
        ...

    def list_subscriptions(
        self, after: tuple[datetime, str] | None, limit: int
    ) -> list[Subscription]:
        """Oldest first by (created_at, id), strictly after `after`."""
        ...

    def active_subscriptions(self) -> list[Subscription]: ...

    # Deliveries: creation, and the sender's side.
    def add_deliveries(self, deliveries: Sequence[Delivery]) -> int:
        """Insert those not already there (same id); returns how many were new."""
        ...

    def missed_events(self, query: CatchUp) -> list[EventEnvelope]:
        """Committed events (the outbox) that `query` asks for, in event order
        (`occurred_at`, then outbox position)."""
        ...

    def due(self, now: datetime, limit: int) -> list[DeliveryTask]:
        """Pending deliveries of active subscriptions whose `next_attempt_at` has come,
        not claimed by a sender (or whose claim expired), and with no earlier pending
        delivery of the same subscription and subject (event order: `occurred_at`,
        then creation order). Oldest first."""
        ...

    def claim(self, delivery_ids: Sequence[str], now: datetime, until: datetime) -> list[str]:
        """Claim each still-pending, unclaimed (or expired) delivery until `until`;
        returns the ids this caller won (concurrent senders win disjoint sets)."""
        ...

    def record(self, delivery_id: str, attempt: Attempt) -> None:
        """Store an attempt's outcome and release the claim (no-op if it was deleted)."""
        ...

    def start_probe(self, subscription_id: str, open_until: datetime, until: datetime) -> bool:
        """Half-open breaker: move `open_until` from the value read to `until`, so that
        exactly one sender probes. False if another got there first."""
        ...

    def circuit_failed(self, subscription_id: str) -> int:
        """Count one more consecutive failure; returns the new streak."""
        ...

    def open_circuit(self, subscription_id: str, until: datetime) -> None: ...

    def circuit_succeeded(self, subscription_id: str) -> None:
        """Close the circuit: streak 0, not open."""
        ...

    # The delivery log.
    def get_delivery(self, subscription_id: str, delivery_id: str) -> Delivery | None: ...

    def deliveries(
        self,
        subscription_id: str,
        status: DeliveryStatus | None,
        before: int | None,
        limit: int,
    ) -> list[tuple[int, Delivery]]:
        """Newest first, as (position, delivery); `before` is a position from a
        previous page. Positions are stable while deliveries are added."""
        ...

    def delivery_counts(self, subscription_id: str) -> dict[DeliveryStatus, int]: ...

    def redeliver(
        self, subscription_id: str, delivery_ids: Sequence[str] | None, now: datetime
    ) -> int:
        """Make the deliveries (None: every `failed` one of the subscription) pending,
        due now, with one more attempt allowed; returns how many."""
        ...

    def stats(self) -> WebhookStats: ...


class HostResolver(Protocol):
    def resolve(self, host: str, port: int) -> list[str]:
        """The IP addresses `host` resolves to; [] if it does not resolve."""
        ...


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class WebhookResponse:
    """`status_code` None when no answer came (timeout, refused, reset); `error` says why."""

    status_code: int | None
    error: str | None = None


class WebhookSender(Protocol):
    def send(self, request: WebhookRequest) -> WebhookResponse:
        """POST once, within the configured timeout, following no redirect and reading
        at most 64 KiB of the answer. Never raises for a network failure."""
        ...
