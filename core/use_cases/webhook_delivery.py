"""Webhook delivery: fanning committed events out to deliveries, and sending due
deliveries with retries, per-subject order and a breaker (docs/api.md, Webhooks).

The sender never holds a transaction across a request: it claims due deliveries
(a short write with a lease), sends with no transaction open, then records the
outcome. A sender that dies mid-send loses its lease; the delivery is sent again
after the lease runs out, with the same event and delivery ids (at least once).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from core.domain.events import EventEnvelope
from core.domain.webhook_signing import signature_header
from core.domain.webhooks import (
    CircuitState,
    Delivery,
    DeliveryStatus,
    DeliveryTask,
    after_failure,
    after_success,
    catch_up,
    is_success,
    new_delivery,
)
from core.ports.system import Clock
from core.ports.webhooks import WebhookRequest, WebhookResponse, WebhookSender, WebhookStore
from core.use_cases.handlers import WEBHOOK_FANOUT
from core.use_cases.webhooks import TargetGuard, WebhookPolicy

logger = logging.getLogger("orderly.webhooks")

USER_AGENT = "Orderly-Webhooks/1"


# --- from committed events to deliveries ----------------------------------------


class FanOutWebhooks:
    """An outbox handler (every event type): one delivery per interested subscription.

    Runs only for committed events, so a rolled-back change never makes a delivery.
    Idempotent without an inbox: a delivery's id is derived from the subscription and
    the event, and the store ignores one it already has.
    """

    name = WEBHOOK_FANOUT

    def __init__(self, store: WebhookStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._listeners: list[Callable[[], None]] = []

    def on_new_deliveries(self, listener: Callable[[], None]) -> None:
        """`listener` is called after new deliveries were stored (wakes a sender)."""
        self._listeners.append(listener)

    def __call__(self, envelope: EventEnvelope) -> None:
        self.handle_batch([envelope])

    def wanted(self, envelopes: Sequence[EventEnvelope]) -> set[str]:
        """The ids of the events some active subscription wants (none: an empty set).

        The RabbitMQ relay asks this after claiming a batch and routes only these to
        the fan-out's queue. The subscriptions are read after the events committed,
        so a subscription committed before an event is always seen."""
        active = self._store.active_subscriptions()
        if not active:
            return set()
        return {e.event_id for e in envelopes if any(s.wants(e.type) for s in active)}

    def handle_batch(self, envelopes: Sequence[EventEnvelope]) -> None:
        """A batch of events: the subscriptions are read once, deliveries stored in
        event order, with those of earlier events of the same subjects that a broker
        redelivery left behind (core/domain/webhooks.py, CATCH_UP_WINDOW)."""
        active = self._store.active_subscriptions()
        if not active:
            return
        now = self._clock.now()
        deliveries: list[Delivery] = []
        for subscription in active:
            wanted = [e for e in envelopes if subscription.wants(e.type)]
            if not wanted:
                continue
            missed = self._store.missed_events(catch_up(subscription, wanted))
            deliveries += [new_delivery(subscription, e, now) for e in [*missed, *wanted]]
        if deliveries and self._store.add_deliveries(deliveries):
            for listener in list(self._listeners):
                listener()


# --- sending ------------------------------------------------------------------------


Outcome = Callable[[str], None]


class DeliverWebhooks:
    """One pass of the sender: pick due deliveries the breaker lets through, claim
    them, send them concurrently outside any transaction, record each outcome."""

    def __init__(
        self,
        store: WebhookStore,
        sender: WebhookSender,
        guard: TargetGuard,
        clock: Clock,
        policy: WebhookPolicy,
        rng: random.Random | None = None,
        on_outcome: Outcome | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._guard = guard
        self._clock = clock
        self._policy = policy
        self._rng = rng or random.Random()
        self._on_outcome = on_outcome or (lambda outcome: None)

    def run_once(self, limit: int = 100, pool: ThreadPoolExecutor | None = None) -> int:
        """Send what is due now; returns how many attempts were made."""
        tasks = self.claim_due(limit)
        if pool is None or len(tasks) <= 1:
            for task in tasks:
                self.send(task)
        else:
            list(pool.map(self.send, tasks))
        return len(tasks)

    def claim_due(self, limit: int) -> list[DeliveryTask]:
        now = self._clock.now()
        chosen: list[DeliveryTask] = []
        probing: set[str] = set()
        refused: set[str] = set()
        for task in self._store.due(now, limit):
            subscription_id = task.delivery.subscription_id
            state = task.circuit.state(now)
            if state is CircuitState.OPEN or subscription_id in refused:
                continue
            if state is CircuitState.HALF_OPEN:
                # One probe decides: the first sender to move open_until sends it.
                if subscription_id in probing:
                    continue
                assert task.circuit.open_until is not None
                cooldown = timedelta(seconds=self._policy.breaker_cooldown_seconds)
                if not self._store.start_probe(
                    subscription_id, task.circuit.open_until, now + cooldown
                ):
                    refused.add(subscription_id)
                    continue
                probing.add(subscription_id)
            chosen.append(task)
        if not chosen:
            return []
        won = set(self._store.claim([t.delivery.id for t in chosen], now, now + self._policy.lease))
        return [t for t in chosen if t.delivery.id in won]

    def send(self, task: DeliveryTask) -> bool:
        """One attempt of one claimed delivery; True if it succeeded."""
        delivery = task.delivery
        try:
            response = self._attempt(task)
            now = self._clock.now()
            if is_success(response.status_code):
                assert response.status_code is not None
                self._store.record(delivery.id, after_success(delivery, now, response.status_code))
                self._store.circuit_succeeded(delivery.subscription_id)
                self._on_outcome("succeeded")
                return True
            error = response.error or f"HTTP {response.status_code}"
            attempt = after_failure(
                delivery,
                now,
                response.status_code,
                error,
                self._policy.max_attempts,
                self._policy.retry_base_seconds,
                self._rng.random(),
            )
            self._store.record(delivery.id, attempt)
            streak = self._store.circuit_failed(delivery.subscription_id)
            if streak >= self._policy.breaker_failures:
                cooldown = timedelta(seconds=self._policy.breaker_cooldown_seconds)
                self._store.open_circuit(delivery.subscription_id, now + cooldown)
            self._on_outcome("failed" if attempt.status is DeliveryStatus.FAILED else "retried")
            logger.info(
                "webhook delivery %s to %s failed (attempt %d): %s",
                delivery.id,
                task.url,
                attempt.attempts,
                error,
            )
            return False
        except Exception:
            # Storage down mid-record: the claim runs out and the delivery is sent again.
            logger.exception("webhook delivery %s: could not record the outcome", delivery.id)
            return False

    def _attempt(self, task: DeliveryTask) -> WebhookResponse:
        refusal = self._guard.refusal(task.url)
        if refusal is not None:
            return WebhookResponse(None, f"refused target: {refusal}")
        now = self._clock.now()
        body = task.delivery.body.encode()
        secrets = [s.value for s in task.secrets if s.valid_at(now)]
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Orderly-Event-Id": task.delivery.event_id,
            "Orderly-Delivery-Id": task.delivery.id,
            "Orderly-Signature": signature_header(secrets, int(now.timestamp()), body),
        }
        return self._sender.send(WebhookRequest(task.url, body, headers))
