"""Webhook use cases: administering subscriptions, fanning committed events out to
deliveries, and sending due deliveries with retries, ordering and a breaker.

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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.domain.errors import FieldProblem, NotFound, ValidationError
from core.domain.events import EventEnvelope
from core.domain.webhooks import (
    SECRET_PREFIX,
    CircuitState,
    Delivery,
    DeliveryStatus,
    DeliveryTask,
    Secret,
    Subscription,
    Target,
    after_failure,
    after_success,
    catch_up,
    check_description,
    forbidden_address,
    is_success,
    new_delivery,
    normalise_events,
    parse_url,
    signature_header,
)
from core.ports.queries import Page
from core.ports.system import Clock, IdGenerator
from core.ports.webhooks import (
    HostResolver,
    WebhookRequest,
    WebhookResponse,
    WebhookSender,
    WebhookStats,
    WebhookStore,
)
from core.use_cases.handlers import WEBHOOK_FANOUT
from core.use_cases.support import DEFAULT_PAGE, decode_cursor, encode_cursor, validate_limit

logger = logging.getLogger("orderly.webhooks")

USER_AGENT = "Orderly-Webhooks/1"


@dataclass(frozen=True)
class WebhookPolicy:
    """ORDERLY_WEBHOOK_* settings, as the rules need them."""

    timeout_seconds: float = 5.0
    retry_base_seconds: float = 10.0
    max_attempts: int = 8
    breaker_failures: int = 5
    breaker_cooldown_seconds: float = 60.0
    allow_private_networks: bool = False

    @property
    def lease(self) -> timedelta:
        """How long a claim lasts: well beyond one request, so that only a dead sender's
        claim runs out."""
        return timedelta(seconds=2 * self.timeout_seconds + 30)


# --- network safety -------------------------------------------------------------


class TargetGuard:
    """Refuses non-http(s) URLs and hosts that resolve to loopback, private, link-local
    or multicast addresses, unless private networks are allowed."""

    def __init__(self, resolver: HostResolver, allow_private_networks: bool) -> None:
        self._resolver = resolver
        self._allow_private = allow_private_networks

    def refusal(self, url: str) -> str | None:
        """Why `url` may not be a target now, or None (used at send time)."""
        try:
            self.check(url)
        except ValidationError as exc:
            return exc.detail
        return None

    def check(self, url: object) -> Target:
        target = parse_url(url)
        if self._allow_private:
            return target
        addresses = self._resolver.resolve(target.host, target.port)
        if not addresses:
            raise _invalid("url", f"host {target.host} does not resolve")
        for address in addresses:
            reason = forbidden_address(address)
            if reason is not None:
                raise _invalid(
                    "url",
                    f"resolves to a forbidden target ({reason}); "
                    "set ORDERLY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true to allow it",
                )
        return target


# --- administration ---------------------------------------------------------------


@dataclass(frozen=True)
class CreatedSubscription:
    subscription: Subscription
    secret: str


@dataclass(frozen=True)
class SubscriptionDetail:
    subscription: Subscription
    circuit: CircuitState
    counts: dict[DeliveryStatus, int]


@dataclass(frozen=True)
class SubscriptionChanges:
    """PATCH: only the fields that are not None change."""

    url: str | None = None
    events: list[str] | None = None
    description: str | None = None
    active: bool | None = None


class WebhookAdmin:
    def __init__(
        self, store: WebhookStore, guard: TargetGuard, clock: Clock, ids: IdGenerator
    ) -> None:
        self._store = store
        self._guard = guard
        self._clock = clock
        self._ids = ids

    def create(self, url: str, events: Sequence[str], description: str = "") -> CreatedSubscription:
        names = normalise_events(list(events) if isinstance(events, list | tuple) else events)
        check_description(description)
        self._guard.check(url)
        now = self._clock.now()
        secret = self._new_secret()
        subscription = Subscription(
            id=self._ids.new_id(),
            url=url,
            events=names,
            description=description,
            active=True,
            secret=Secret(secret),
            previous_secret=None,
            created_at=now,
            updated_at=now,
        )
        self._store.add_subscription(subscription)
        return CreatedSubscription(subscription, secret)

    def get(self, subscription_id: str) -> SubscriptionDetail:
        subscription = self._get(subscription_id)
        counts = self._store.delivery_counts(subscription.id)
        return SubscriptionDetail(
            subscription, subscription.circuit.state(self._clock.now()), counts
        )

    def page(self, limit: int = DEFAULT_PAGE, cursor: str | None = None) -> Page[Subscription]:
        validate_limit(limit)
        after = None
        if cursor is not None:
            data = decode_cursor(cursor)
            at, key = data.get("t"), data.get("i")
            if not isinstance(at, str) or not isinstance(key, str):
                raise _bad_cursor("webhooks")
            try:
                after = (datetime.fromisoformat(at), key)
            except ValueError:
                raise _bad_cursor("webhooks") from None
        rows = self._store.list_subscriptions(after, limit + 1)
        items = rows[:limit]
        if len(rows) > limit:
            last = items[-1]
            return Page(items, encode_cursor({"t": last.created_at.isoformat(), "i": last.id}))
        return Page(items, None)

    def update(self, subscription_id: str, changes: SubscriptionChanges) -> Subscription:
        subscription = self._get(subscription_id)
        updated = subscription
        if changes.url is not None:
            self._guard.check(changes.url)
            updated = replace(updated, url=changes.url)
        if changes.events is not None:
            updated = replace(updated, events=normalise_events(changes.events))
        if changes.description is not None:
            updated = replace(updated, description=check_description(changes.description))
        if changes.active is not None:
            updated = replace(updated, active=bool(changes.active))
        if updated == subscription:
            return subscription
        updated = replace(updated, updated_at=self._clock.now())
        if not self._store.update_subscription(updated):
            raise NotFound(f"webhook {subscription_id} not found")
        return updated

    def set_active(self, subscription_id: str, active: bool) -> Subscription:
        return self.update(subscription_id, SubscriptionChanges(active=active))

    def delete(self, subscription_id: str) -> None:
        """Removes it; its pending deliveries are dropped with it."""
        if not self._store.delete_subscription(subscription_id):
            raise NotFound(f"webhook {subscription_id} not found")

    def rotate_secret(self, subscription_id: str) -> CreatedSubscription:
        """A new secret; the old one keeps signing (as a second v1) for 24 hours."""
        subscription = self._get(subscription_id)
        secret = self._new_secret()
        rotated = subscription.rotated(secret, self._clock.now())
        if not self._store.update_subscription(rotated):
            raise NotFound(f"webhook {subscription_id} not found")
        return CreatedSubscription(rotated, secret)

    def deliveries(
        self,
        subscription_id: str,
        status: str | None = None,
        limit: int = DEFAULT_PAGE,
        cursor: str | None = None,
    ) -> Page[Delivery]:
        validate_limit(limit)
        wanted = _parse_status(status)
        before = None
        if cursor is not None:
            position = decode_cursor(cursor).get("p")
            if isinstance(position, bool) or not isinstance(position, int):
                raise _bad_cursor("deliveries")
            before = position
        self._get(subscription_id)
        rows = self._store.deliveries(subscription_id, wanted, before, limit + 1)
        items = rows[:limit]
        more = len(rows) > limit
        return Page([d for _, d in items], encode_cursor({"p": items[-1][0]}) if more else None)

    def delivery(self, subscription_id: str, delivery_id: str) -> Delivery:
        found = self._store.get_delivery(subscription_id, delivery_id)
        if found is None:
            raise NotFound(f"delivery {delivery_id} of webhook {subscription_id} not found")
        return found

    def redeliver(self, subscription_id: str, delivery_id: str) -> Delivery:
        """A new attempt now (also of a succeeded delivery: same event id, so the
        receiver's dedupe applies)."""
        self.delivery(subscription_id, delivery_id)
        self._store.redeliver(subscription_id, [delivery_id], self._clock.now())
        return self.delivery(subscription_id, delivery_id)

    def redeliver_failed(self, subscription_id: str) -> int:
        self._get(subscription_id)
        return self._store.redeliver(subscription_id, None, self._clock.now())

    def stats(self) -> WebhookStats:
        return self._store.stats()

    def _get(self, subscription_id: str) -> Subscription:
        found = self._store.get_subscription(subscription_id)
        if found is None:
            raise NotFound(f"webhook {subscription_id} not found")
        return found

    def _new_secret(self) -> str:
        return SECRET_PREFIX + self._ids.new_secret()


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


def _parse_status(status: str | None) -> DeliveryStatus | None:
    if status is None:
        return None
    try:
        return DeliveryStatus(status)
    except ValueError:
        raise _invalid("status", "must be pending, succeeded or failed") from None


def _bad_cursor(what: str) -> ValidationError:
    return _invalid("cursor", f"must be a next_cursor from a {what} page")


def _invalid(field_name: str, message: str) -> ValidationError:
    return ValidationError(f"{field_name} {message}", [FieldProblem(field_name, message)])
