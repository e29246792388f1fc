"""Webhook rules on the in-memory adapters: fan-out from committed events only,
signatures, the retry schedule, per-subject order, the breaker, the log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.memory.webhook_network import MemoryReceiver, MemoryResolver
from adapters.system import FixedClock
from core.domain.errors import NotFound, ValidationError
from core.domain.events import EventEnvelope
from core.domain.webhook_signing import verify_signature
from core.domain.webhook_validation import forbidden_address
from core.domain.webhooks import ROTATION_OVERLAP, DeliveryStatus, retry_delay
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.inventory import AdjustStockCommand
from core.use_cases.webhook_delivery import DeliverWebhooks
from core.use_cases.webhooks import SubscriptionChanges, WebhookAdmin
from entrypoints.container import Container
from entrypoints.settings import Settings
from tests.unit.containers import lend

URL = "https://hooks.example.com/orderly"


@dataclass
class Hooks:
    container: Container
    clock: FixedClock
    receiver: MemoryReceiver

    @property
    def admin(self) -> WebhookAdmin:
        admin: WebhookAdmin = self.container.webhook_admin()
        return admin

    @property
    def sender(self) -> DeliverWebhooks:
        deliver: DeliverWebhooks = self.container.deliver_webhooks()
        return deliver

    def product(self, sku: str) -> None:
        self.container.create_product()(CreateProductCommand(sku, f"Product {sku}", 100))

    def adjust(self, sku: str, delta: int) -> None:
        self.container.adjust_stock()(AdjustStockCommand(sku, delta, "recount"))

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.receiver.requests]


def _hooks(clock: FixedClock, relay: bool) -> Hooks:
    container = lend(
        Settings(
            database_url="memory://",
            webhook_retry_base_seconds=10.0,
            webhook_max_attempts=4,
            webhook_breaker_failures=3,
            webhook_breaker_cooldown_seconds=60.0,
        )
    )
    container.clock.override(clock)
    receiver = MemoryReceiver()
    container.webhook_sender.override(receiver)
    container.host_resolver.override(
        MemoryResolver({"hooks.example.com": ["93.184.216.34"], "intranet": ["10.0.0.7"]})
    )
    if relay:
        container.commit_hooks().subscribe(container.sync_relay().on_commit)
    return Hooks(container, clock, receiver)


@pytest.fixture
def hooks(clock: FixedClock) -> Iterator[Hooks]:
    yield _hooks(clock, relay=True)


@pytest.fixture
def unrelayed(clock: FixedClock) -> Hooks:
    """Committed events stay in the outbox until a test fans them out itself."""
    return _hooks(clock, relay=False)


def test_committed_events_become_signed_deliveries(hooks: Hooks) -> None:
    created = hooks.admin.create(URL, ["ProductCreated"])
    assert created.secret.startswith("whsec_") and len(created.secret) >= 6 + 43
    hooks.product("MUG-01")
    hooks.adjust("MUG-01", 3)  # StockAdjusted: not subscribed
    assert hooks.sender.run_once() == 1
    [request] = hooks.receiver.requests
    body = json.loads(request.body)
    assert body["type"] == "ProductCreated" and body["subject"] == "MUG-01"
    assert set(body) == {"id", "type", "occurred_at", "subject", "schema_version", "data"}
    assert request.headers["Orderly-Event-Id"] == body["id"]
    [entry] = hooks.admin.deliveries(created.subscription.id).items
    assert request.headers["Orderly-Delivery-Id"] == entry.id
    assert entry.status is DeliveryStatus.SUCCEEDED and entry.attempts == 1
    header = request.headers["Orderly-Signature"]
    timestamp = int(header.split(",")[0][2:])
    assert verify_signature(created.secret, header, request.body, timestamp)
    assert not verify_signature("whsec_other", header, request.body, timestamp)
    assert not verify_signature(created.secret, header, request.body + b" ", timestamp)


def test_a_rolled_back_change_makes_no_delivery(hooks: Hooks) -> None:
    hooks.admin.create(URL, ["*"])
    with pytest.raises(ValidationError):
        hooks.product("bad sku")
    with hooks.container.uow_factory()() as uow:  # a change that is never committed
        uow.products.get("NOPE")
    assert hooks.sender.run_once() == 0
    assert hooks.admin.stats().pending == 0


def test_replayed_event_is_one_delivery(hooks: Hooks) -> None:
    sub = hooks.admin.create(URL, ["*"]).subscription
    hooks.product("MUG-01")
    fanout = hooks.container.webhook_fanout()
    store = hooks.container.webhook_store()
    [entry] = hooks.admin.deliveries(sub.id).items
    # The relay delivers at least once: the same event again adds nothing.
    event = EventEnvelope.from_dict(
        {
            "event_id": entry.event_id,
            "type": entry.event_type,
            "subject": entry.subject,
            "occurred_at": entry.occurred_at.isoformat(),
            "correlation_id": "c",
            "schema_version": 1,
            "payload": json.loads(entry.body)["data"],
        }
    )
    fanout(event)
    assert store.delivery_counts(sub.id)[DeliveryStatus.PENDING] == 1


def test_retry_schedule_doubles_with_bounded_jitter() -> None:
    for attempt, expected in ((1, 10.0), (2, 20.0), (3, 40.0), (8, 1280.0)):
        assert retry_delay(attempt, 10.0, 0.5) == pytest.approx(expected)
        assert retry_delay(attempt, 10.0, 0.0) == pytest.approx(expected * 0.8)
        assert retry_delay(attempt, 10.0, 0.999999) == pytest.approx(expected * 1.2, rel=1e-5)
    assert retry_delay(30, 10.0, 0.5) == 3600.0


def test_failed_attempts_back_off_then_fail_then_redeliver(hooks: Hooks) -> None:
    sub = hooks.admin.create(URL, ["ProductCreated"]).subscription
    hooks.product("MUG-01")
    hooks.receiver.answer_next(500, None, 503, 502)
    assert hooks.sender.run_once() == 1
    [entry] = hooks.admin.deliveries(sub.id).items
    assert entry.status is DeliveryStatus.PENDING and entry.attempts == 1
    assert entry.last_status_code == 500
    waited = (entry.next_attempt_at - entry.last_attempt_at).total_seconds()  # type: ignore[operator]
    assert 8.0 <= waited <= 12.0
    assert hooks.sender.run_once() == 0  # not due yet
    for _ in range(3):
        hooks.clock.advance(200)
        assert hooks.sender.run_once() == 1
    [entry] = hooks.admin.deliveries(sub.id).items
    assert entry.status is DeliveryStatus.FAILED and entry.attempts == 4
    assert entry.last_error == "HTTP 502"
    hooks.clock.advance(10_000)
    assert hooks.sender.run_once() == 0  # failed waits for a redelivery
    assert hooks.admin.redeliver_failed(sub.id) == 1
    assert hooks.sender.run_once() == 1
    [entry] = hooks.admin.deliveries(sub.id, "succeeded").items
    assert entry.attempts == 5
    assert len({r.headers["Orderly-Event-Id"] for r in hooks.receiver.requests}) == 1


def test_one_subject_waits_for_its_earlier_delivery_others_do_not(hooks: Hooks) -> None:
    sub = hooks.admin.create(URL, ["ProductCreated", "StockAdjusted"]).subscription
    hooks.product("A-1")
    hooks.adjust("A-1", 5)
    hooks.product("B-1")
    hooks.receiver.answer_next(500)  # A-1's ProductCreated fails once
    assert hooks.sender.run_once() == 2  # A-1 created and B-1 created; A-1's adjustment waits
    assert [b["subject"] for b in hooks.bodies()] == ["A-1", "B-1"]
    assert hooks.sender.run_once() == 0
    hooks.clock.advance(60)
    assert hooks.sender.run_once() == 1  # the retry of A-1's creation
    assert hooks.sender.run_once() == 1  # only now its adjustment
    sent = [(b["subject"], b["type"]) for b in hooks.bodies()]
    assert sent[-2:] == [("A-1", "ProductCreated"), ("A-1", "StockAdjusted")]
    assert hooks.admin.get(sub.id).counts[DeliveryStatus.SUCCEEDED] == 3


def test_an_out_of_order_fan_out_catches_earlier_events_up(unrelayed: Hooks) -> None:
    """A broker can hand the fan-out a later event of a subject first (a message requeued
    after a worker crash): the earlier committed events of that subject get their
    deliveries in the same write, so they are still sent first."""
    hooks = unrelayed
    sub = hooks.admin.create(URL, ["ProductCreated", "StockAdjusted"]).subscription
    hooks.clock.advance(1)
    hooks.product("A-1")
    hooks.clock.advance(1)
    hooks.adjust("A-1", 5)
    hooks.clock.advance(1)
    hooks.product("B-1")
    events = hooks.container.queries().order_events
    created_a, adjusted_a = events("A-1")
    fanout = hooks.container.webhook_fanout()
    fanout(adjusted_a)
    assert hooks.admin.get(sub.id).counts[DeliveryStatus.PENDING] == 2  # not B-1's
    assert hooks.sender.run_once() == 1
    assert hooks.sender.run_once() == 1
    assert [(b["subject"], b["type"]) for b in hooks.bodies()] == [
        ("A-1", "ProductCreated"),
        ("A-1", "StockAdjusted"),
    ]
    fanout.handle_batch([created_a, adjusted_a, *events("B-1")])  # the requeued messages
    assert hooks.admin.get(sub.id).counts[DeliveryStatus.PENDING] == 1


def test_catch_up_leaves_events_from_before_the_subscription_changed(unrelayed: Hooks) -> None:
    hooks = unrelayed
    sub = hooks.admin.create(URL, ["StockAdjusted"]).subscription
    hooks.clock.advance(1)
    hooks.product("A-1")
    hooks.adjust("A-1", 1)  # before the change: not wanted by the rules then in force
    hooks.clock.advance(1)
    hooks.admin.update(sub.id, SubscriptionChanges(events=["ProductCreated", "StockAdjusted"]))
    hooks.clock.advance(1)
    hooks.adjust("A-1", 2)
    *_, last = hooks.container.queries().order_events("A-1")
    hooks.container.webhook_fanout()(last)
    [entry] = hooks.admin.deliveries(sub.id).items
    assert entry.event_id == last.event_id


def test_breaker_opens_waits_probes_once_and_closes(hooks: Hooks) -> None:
    sub = hooks.admin.create(URL, ["ProductCreated"]).subscription
    for n in range(5):
        hooks.product(f"SKU-{n}")
    hooks.receiver.answer_next(500, 500, 500, 500, 500)
    assert hooks.sender.run_once() == 5  # five subjects in parallel, all fail
    detail = hooks.admin.get(sub.id)
    assert detail.circuit.value == "open"
    assert hooks.admin.stats().open_circuits == 1
    hooks.clock.advance(30)  # retries are due (10-12 s) but the circuit is open
    assert hooks.sender.run_once() == 0
    hooks.clock.advance(31)
    assert hooks.admin.get(sub.id).circuit.value == "half_open"
    hooks.receiver.answer_next(500)
    assert hooks.sender.run_once() == 1  # one probe, failed: open again
    assert hooks.admin.get(sub.id).circuit.value == "open"
    hooks.clock.advance(61)
    assert hooks.sender.run_once() == 1  # the probe succeeds...
    assert hooks.admin.get(sub.id).circuit.value == "closed"
    assert hooks.sender.run_once() == 4  # ...and the rest flow, nothing was dropped
    assert hooks.admin.get(sub.id).counts[DeliveryStatus.SUCCEEDED] == 5


def test_rotation_signs_with_both_secrets_for_24_hours(hooks: Hooks) -> None:
    created = hooks.admin.create(URL, ["ProductCreated"])
    rotated = hooks.admin.rotate_secret(created.subscription.id)
    hooks.product("MUG-01")
    hooks.sender.run_once()
    request = hooks.receiver.requests[-1]
    header = request.headers["Orderly-Signature"]
    now = int(header.split(",")[0][2:])
    assert header.count("v1=") == 2
    assert verify_signature(created.secret, header, request.body, now)
    assert verify_signature(rotated.secret, header, request.body, now)
    hooks.clock.advance(ROTATION_OVERLAP.total_seconds() + 1)
    hooks.product("MUG-02")
    hooks.sender.run_once()
    header = hooks.receiver.requests[-1].headers["Orderly-Signature"]
    assert header.count("v1=") == 1


def test_disable_holds_deliveries_and_delete_drops_them(hooks: Hooks) -> None:
    sub = hooks.admin.create(URL, ["*"]).subscription
    hooks.product("MUG-01")
    hooks.admin.set_active(sub.id, False)
    hooks.product("MUG-02")  # no delivery for an inactive webhook
    assert hooks.sender.run_once() == 0
    assert hooks.admin.get(sub.id).counts[DeliveryStatus.PENDING] == 1
    hooks.admin.set_active(sub.id, True)
    hooks.receiver.answer_next(500)
    assert hooks.sender.run_once() == 1
    hooks.admin.delete(sub.id)
    assert hooks.admin.stats().pending == 0
    with pytest.raises(NotFound):
        hooks.admin.get(sub.id)


@pytest.mark.parametrize(
    ("url", "field_message"),
    [
        ("ftp://hooks.example.com/x", "http or https"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("https://127.0.0.1/x", "loopback"),
        ("http://intranet/x", "private"),
        ("http://169.254.169.254/latest", "link-local"),
        ("http://[::1]:8080/x", "loopback"),
        ("http://224.0.0.1/x", "multicast"),
        ("http://nowhere.invalid/x", "does not resolve"),
        ("not a url", "spaces"),
        ("hooks.example.com/x", "http or https"),
    ],
)
def test_unsafe_targets_are_refused_naming_the_field(
    hooks: Hooks, url: str, field_message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        hooks.admin.create(url, ["*"])
    [problem] = refused.value.errors
    assert problem.field == "url" and field_message in problem.message


def test_private_targets_allowed_when_configured(clock: FixedClock) -> None:
    container = lend(Settings(database_url="memory://", webhooks_allow_private_networks=True))
    container.host_resolver.override(MemoryResolver())
    admin: WebhookAdmin = container.webhook_admin()
    assert admin.create("http://127.0.0.1:9/x", ["*"]).subscription.url == "http://127.0.0.1:9/x"


def test_forbidden_addresses() -> None:
    assert forbidden_address("93.184.216.34") is None
    assert forbidden_address("2606:2800:220:1::") is None
    refused = ("127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "fe80::1", "::ffff:127.0.0.1")
    for address in (*refused, "0.0.0.0", "ff02::1"):
        assert forbidden_address(address) is not None, address


@pytest.mark.parametrize(
    ("events", "message"),
    [([], "non-empty"), (["Nope"], "unknown event type"), (["*", "OrderPaid"], "alone")],
)
def test_bad_event_lists_are_refused(hooks: Hooks, events: list[str], message: str) -> None:
    with pytest.raises(ValidationError) as refused:
        hooks.admin.create(URL, events)
    assert refused.value.errors[0].field == "events"
    assert message in refused.value.errors[0].message


def test_delivery_log_pages_newest_first(hooks: Hooks) -> None:
    sub = hooks.admin.create(URL, ["ProductCreated"]).subscription
    for n in range(5):
        hooks.product(f"SKU-{n}")
    first = hooks.admin.deliveries(sub.id, limit=2)
    assert [d.subject for d in first.items] == ["SKU-4", "SKU-3"]
    second = hooks.admin.deliveries(sub.id, limit=2, cursor=first.next_cursor)
    assert [d.subject for d in second.items] == ["SKU-2", "SKU-1"]
    with pytest.raises(ValidationError):
        hooks.admin.deliveries(sub.id, status="bogus")
    with pytest.raises(ValidationError):
        hooks.admin.deliveries(sub.id, cursor="garbage")


def test_the_fan_out_says_which_events_a_subscription_wants(unrelayed: Hooks) -> None:
    """What the RabbitMQ relay asks before routing events to the fan-out's queue."""
    fanout = unrelayed.container.webhook_fanout()
    now = unrelayed.clock.now()
    placed, paid, shipped = (
        EventEnvelope(f"e-{t}", t, "order-1", now, "c", 1, {})
        for t in ("OrderPlaced", "OrderPaid", "OrderShipped")
    )
    assert fanout.wanted([placed, paid, shipped]) == set()  # no subscription
    sub = unrelayed.admin.create(URL, ["OrderPaid"]).subscription
    unrelayed.admin.create(URL, ["OrderShipped"])
    assert fanout.wanted([placed, paid, shipped]) == {"e-OrderPaid", "e-OrderShipped"}
    unrelayed.admin.update(sub.id, SubscriptionChanges(active=False))
    assert fanout.wanted([placed, paid, shipped]) == {"e-OrderShipped"}
