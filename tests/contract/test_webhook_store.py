"""The webhook store's contract, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from core.domain.events import EventEnvelope
from core.domain.webhooks import (
    Attempt,
    CatchUp,
    Delivery,
    DeliveryStatus,
    Secret,
    Subscription,
    new_delivery,
)
from core.ports.webhooks import WebhookStore
from tests.contract.builders import add_product
from tests.contract.conftest import Backend

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _store(backend: Backend) -> WebhookStore:
    store: WebhookStore = backend.container.webhook_store()
    return store


def _subscription(n: int, active: bool = True) -> Subscription:
    return Subscription(
        id=f"sub-{n}",
        url=f"https://hooks.example.com/{n}",
        events=("*",),
        description=f"number {n}",
        active=active,
        secret=Secret(f"whsec_{n}"),
        previous_secret=None,
        created_at=T0 + timedelta(seconds=n),
        updated_at=T0 + timedelta(seconds=n),
    )


def _event(n: int, subject: str, at: datetime | None = None) -> EventEnvelope:
    return EventEnvelope(
        event_id=f"evt-{n}",
        type="StockAdjusted",
        subject=subject,
        occurred_at=at or T0 + timedelta(seconds=n),
        correlation_id="corr",
        schema_version=1,
        payload={"sku": subject, "n": n},
    )


def _delivery(sub: Subscription, n: int, subject: str) -> Delivery:
    return new_delivery(sub, _event(n, subject), T0)


def test_subscriptions_round_trip_and_page(backend: Backend) -> None:
    store = _store(backend)
    for n in range(3):
        store.add_subscription(_subscription(n))
    got = store.get_subscription("sub-1")
    assert got == _subscription(1)
    assert store.get_subscription("nope") is None
    first = store.list_subscriptions(None, 2)
    assert [s.id for s in first] == ["sub-0", "sub-1"]
    rest = store.list_subscriptions((first[-1].created_at, first[-1].id), 2)
    assert [s.id for s in rest] == ["sub-2"]
    rotated = replace(
        _subscription(1, active=False),
        secret=Secret("whsec_new"),
        previous_secret=Secret("whsec_1", T0 + timedelta(hours=24)),
        events=("OrderPaid", "OrderShipped"),
    )
    assert store.update_subscription(rotated)
    assert store.get_subscription("sub-1") == rotated
    assert [s.id for s in store.active_subscriptions()] in (["sub-0", "sub-2"], ["sub-2", "sub-0"])
    assert not store.update_subscription(_subscription(9))


def test_deliveries_are_added_once_and_go_with_their_subscription(backend: Backend) -> None:
    store = _store(backend)
    sub = _subscription(1)
    store.add_subscription(sub)
    deliveries = [_delivery(sub, 1, "A"), _delivery(sub, 2, "A")]
    assert store.add_deliveries(deliveries) == 2
    assert store.add_deliveries(deliveries) == 0  # a replayed event adds nothing
    assert store.add_deliveries([_delivery(_subscription(7), 3, "A")]) == 0  # no such webhook
    assert store.get_delivery(sub.id, deliveries[0].id) == deliveries[0]
    assert store.get_delivery("sub-7", deliveries[0].id) is None
    assert store.delivery_counts(sub.id)[DeliveryStatus.PENDING] == 2
    assert store.stats().pending == 2
    assert store.stats().oldest_pending_at == T0
    assert store.delete_subscription(sub.id)
    assert not store.delete_subscription(sub.id)
    assert store.stats().pending == 0


def test_due_gives_each_subject_chain_its_head_only(backend: Backend) -> None:
    store = _store(backend)
    sub, other, off = _subscription(1), _subscription(2), _subscription(3, active=False)
    for s in (sub, other, off):
        store.add_subscription(s)
    a1, a2, b1 = _delivery(sub, 1, "A"), _delivery(sub, 2, "A"), _delivery(sub, 3, "B")
    # Same subject at another subscription is its own chain; an inactive one is held.
    c1, d1 = _delivery(other, 2, "A"), _delivery(off, 4, "A")
    # Event order is occurred_at, not arrival: a later-added earlier event leads.
    a0 = new_delivery(sub, _event(0, "A", T0 - timedelta(seconds=5)), T0)
    store.add_deliveries([a1, a2, b1, c1, d1, a0])
    due = store.due(T0, 100)
    assert [t.delivery.id for t in due] == [b1.id, c1.id, a0.id]
    assert due[0].url == sub.url and due[0].secrets == (sub.secret,)
    assert store.due(T0 - timedelta(seconds=1), 100) == []  # not due before next_attempt_at

    # Claims are exclusive until the lease runs out.
    won = store.claim([b1.id, a0.id], T0, T0 + timedelta(seconds=30))
    assert sorted(won) == sorted([b1.id, a0.id])
    assert store.claim([b1.id], T0, T0 + timedelta(seconds=30)) == []
    assert [t.delivery.id for t in store.due(T0, 100)] == [c1.id]
    assert sorted(t.delivery.id for t in store.due(T0 + timedelta(seconds=31), 100)) == sorted(
        [b1.id, c1.id, a0.id]
    )

    # Recording a success releases the claim and moves the chain on.
    store.record(a0.id, Attempt(DeliveryStatus.SUCCEEDED, 1, T0, T0, 200, None))
    assert a1.id in [t.delivery.id for t in store.due(T0, 100)]
    later = T0 + timedelta(seconds=40)
    store.record(a1.id, Attempt(DeliveryStatus.PENDING, 1, later, T0, 500, "HTTP 500"))
    assert a2.id not in [t.delivery.id for t in store.due(T0 + timedelta(seconds=1), 100)]
    entry = store.get_delivery(sub.id, a1.id)
    assert entry is not None and entry.attempts == 1 and entry.last_error == "HTTP 500"
    assert entry.last_status_code == 500 and entry.next_attempt_at == later
    assert [t.delivery.id for t in store.due(T0 + timedelta(seconds=31), 1)] == [b1.id]


def test_circuit_counts_opens_probes_once_and_closes(backend: Backend) -> None:
    store = _store(backend)
    sub = _subscription(1)
    store.add_subscription(sub)
    store.add_deliveries([_delivery(sub, 1, "A")])
    assert [store.circuit_failed(sub.id) for _ in range(3)] == [1, 2, 3]
    until = T0 + timedelta(seconds=60)
    store.open_circuit(sub.id, until)
    assert store.stats().open_circuits == 1
    assert store.due(T0, 10) == []  # open: nothing is handed out
    [task] = store.due(until, 10)  # half-open at the deadline
    assert task.circuit.failure_streak == 3 and task.circuit.open_until == until
    later = until + timedelta(seconds=60)
    assert store.start_probe(sub.id, until, later)
    assert not store.start_probe(sub.id, until, later)  # one sender probes
    store.circuit_succeeded(sub.id)
    got = store.get_subscription(sub.id)
    assert got is not None and got.circuit.failure_streak == 0 and got.circuit.open_until is None
    assert store.stats().open_circuits == 0
    # Changing the subscription never overwrites the circuit senders maintain.
    store.circuit_failed(sub.id)
    store.update_subscription(replace(sub, description="changed"))
    got = store.get_subscription(sub.id)
    assert got is not None and got.circuit.failure_streak == 1


def test_log_pages_newest_first_filters_and_redelivers(backend: Backend) -> None:
    store = _store(backend)
    sub = _subscription(1)
    store.add_subscription(sub)
    ds = [_delivery(sub, n, f"S{n}") for n in range(5)]
    store.add_deliveries(ds)
    failed = Attempt(DeliveryStatus.FAILED, 8, T0, T0, 410, "HTTP 410")
    store.record(ds[1].id, failed)
    store.record(ds[3].id, failed)
    store.record(ds[4].id, Attempt(DeliveryStatus.SUCCEEDED, 1, T0, T0, 200, None))
    page = store.deliveries(sub.id, None, None, 2)
    assert [d.id for _, d in page] == [ds[4].id, ds[3].id]
    rest = store.deliveries(sub.id, None, page[-1][0], 10)
    assert [d.id for _, d in rest] == [ds[2].id, ds[1].id, ds[0].id]
    only_failed = store.deliveries(sub.id, DeliveryStatus.FAILED, None, 10)
    assert [d.id for _, d in only_failed] == [ds[3].id, ds[1].id]
    counts = store.delivery_counts(sub.id)
    assert counts == {
        DeliveryStatus.PENDING: 2,
        DeliveryStatus.SUCCEEDED: 1,
        DeliveryStatus.FAILED: 2,
    }
    now = T0 + timedelta(minutes=5)
    assert store.redeliver(sub.id, None, now) == 2
    again = store.get_delivery(sub.id, ds[1].id)
    assert again is not None and again.status is DeliveryStatus.PENDING
    assert again.attempt_limit == 9 and again.next_attempt_at == now
    assert store.redeliver(sub.id, [ds[4].id], now) == 1  # a succeeded one, sent again
    resent = store.get_delivery(sub.id, ds[4].id)
    assert resent is not None and resent.status is DeliveryStatus.PENDING
    assert resent.attempt_limit == 2
    assert store.redeliver(sub.id, [ds[0].id], now) == 1  # pending: keeps its limit
    kept = store.get_delivery(sub.id, ds[0].id)
    assert kept is not None and kept.attempt_limit is None


def test_missed_events_are_committed_events_without_a_delivery(backend: Backend) -> None:
    store = _store(backend)
    now = backend.clock.now()
    sub = replace(_subscription(1), created_at=now, updated_at=now)
    store.add_subscription(sub)
    for sku in ("SKU-A", "SKU-B"):
        backend.clock.advance(1)
        add_product(backend.uow, backend.clock.now(), sku, on_hand=1)
    committed = [e for batch in backend.committed for e in batch]
    a_created, a_adjusted, *_ = committed
    until = backend.clock.now()

    def missed(**changes: object) -> list[EventEnvelope]:
        base = CatchUp(sub.id, ("SKU-A",), None, now, until, frozenset())
        return store.missed_events(replace(base, **changes))  # type: ignore[arg-type]

    assert missed() == [a_created, a_adjusted]  # whole envelopes, in event order
    assert missed(subjects=("SKU-A", "SKU-B")) == committed
    assert missed(types=("StockAdjusted",)) == [a_adjusted]
    assert missed(known=frozenset({a_adjusted.event_id})) == [a_created]
    assert missed(since=until + timedelta(seconds=1)) == []
    assert missed(until=now) == []
    store.add_deliveries([new_delivery(sub, a_created, until)])
    assert missed() == [a_adjusted]
    assert missed(subscription_id="sub-9") == [a_created, a_adjusted]  # per subscription
