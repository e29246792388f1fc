"""Webhook administration: subscriptions, their secrets and delivery log, the network
rule on targets, and the settings the sender works by. Fan-out and sending are in
core/use_cases/webhook_delivery.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.domain.errors import FieldProblem, NotFound, ValidationError
from core.domain.webhook_validation import (
    Target,
    check_description,
    forbidden_address,
    normalise_events,
    parse_url,
)
from core.domain.webhooks import (
    SECRET_PREFIX,
    CircuitState,
    Delivery,
    DeliveryStatus,
    Secret,
    Subscription,
)
from core.ports.queries import Page
from core.ports.system import Clock, IdGenerator
from core.ports.webhooks import (
    HostResolver,
    WebhookStats,
    WebhookStore,
)
from core.use_cases.support import (
    DEFAULT_PAGE,
    Changed,
    decode_cursor,
    encode_cursor,
    validate_limit,
)


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
        return self._detail(self._get(subscription_id))

    def _detail(self, subscription: Subscription) -> SubscriptionDetail:
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

    def update(
        self, subscription_id: str, changes: SubscriptionChanges
    ) -> Changed[SubscriptionDetail]:
        """The subscription as the change left it, with its circuit and delivery counts."""
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
        changed = updated != subscription
        if changed:
            updated = replace(updated, updated_at=self._clock.now())
            if not self._store.update_subscription(updated):
                raise NotFound(f"webhook {subscription_id} not found")
        return Changed(self._detail(updated), changed)

    def set_active(self, subscription_id: str, active: bool) -> Changed[SubscriptionDetail]:
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
