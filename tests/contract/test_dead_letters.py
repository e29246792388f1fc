"""Dead letters of in-process delivery, on memory, SQLite and PostgreSQL.

A delivery that fails `ORDERLY_MAX_DELIVERY_ATTEMPTS` runs is parked in the
dead-letter store and blocks nothing; in a batch, the good deliveries commit
once and the poison one is parked alone. `orderly dlq list | replay | purge`
and `orderly outbox status --json` see them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner
from dependency_injector import providers

from adapters.messaging.dispatch import HandlerDispatcher
from adapters.payments.ledger import MemoryLedger
from adapters.payments.simulated import SimulatedGateway
from core.domain.events import EventEnvelope
from core.domain.money import Money
from core.domain.orders import RequestedLine
from core.ports.messaging import DeadLetter, DeadLetterStore
from core.ports.payments import ChargeResult, RefundResult
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.ordering import PlaceOrderCommand
from entrypoints.cli.main import cli
from tests.contract.conftest import Backend
from tests.payments_ledger import LedgerReader


class PoisonGateway:
    """The simulated gateway, except that charging a poisoned key fails (not transiently)."""

    def __init__(self) -> None:
        store = MemoryLedger()
        self.inner = SimulatedGateway(store)
        self.ledger = LedgerReader(store)
        self.poisoned: set[str] = set()

    def charge(self, idempotency_key: str, amount: Money) -> ChargeResult:
        if idempotency_key in self.poisoned:
            raise ValueError(f"merchant config rejects order {idempotency_key}")
        return self.inner.charge(idempotency_key, amount)

    def refund(self, idempotency_key: str) -> RefundResult:
        return self.inner.refund(idempotency_key)


@pytest.fixture
def gateway(backend: Backend) -> Iterator[PoisonGateway]:
    gateway = PoisonGateway()
    c = backend.container
    c.gateway.override(providers.Object(gateway))
    c.config.max_delivery_attempts.from_value(3)
    sleeps: list[float] = []
    c.dispatcher.override(  # backoff recorded, not slept
        providers.Singleton(
            HandlerDispatcher,
            c.handlers,
            attempts=3,
            sleep=sleeps.append,
            dead_letters=c.dead_letter_store,
        )
    )
    yield gateway
    c.gateway.reset_override()
    c.dispatcher.reset_override()


def _envelope(n: int, backend: Backend) -> EventEnvelope:
    return EventEnvelope(
        event_id=f"event-{n}",
        type="OrderShipped",
        subject=f"order-{n}",
        occurred_at=backend.clock.now(),
        correlation_id=f"corr-{n}",
        schema_version=1,
        payload={"order_id": f"order-{n}", "customer_id": "c"},
    )


def test_the_store_parks_lists_replaces_removes_and_purges(backend: Backend) -> None:
    store: DeadLetterStore = backend.container.dead_letter_store()
    assert store.count() == 0 and store.list(10) == []
    start = backend.clock.now()
    for n in (2, 1):
        letter = DeadLetter(
            "notifications.order_shipped",
            _envelope(n, backend),
            5,
            "boom",
            start + timedelta(seconds=n),
        )
        store.add(letter)
    store.add(DeadLetter("payments.charge", _envelope(3, backend), 4, "x" * 2000, start))
    listed = store.list(10)
    assert [(d.handler, d.envelope.event_id) for d in listed] == [
        ("payments.charge", "event-3"),
        ("notifications.order_shipped", "event-1"),
        ("notifications.order_shipped", "event-2"),
    ]
    assert listed[1].envelope.type == "OrderShipped"
    assert listed[1].envelope.payload == {"order_id": "order-1", "customer_id": "c"}
    assert listed[0].dead_lettered_at == start and listed[0].attempts == 4
    # Parking the same delivery again replaces it.
    store.add(
        DeadLetter("payments.charge", _envelope(3, backend), 5, "again", start + timedelta(1))
    )
    assert store.count() == 3
    assert [d.error for d in store.list(10) if d.handler == "payments.charge"] == ["again"]
    assert store.list(1)[0].envelope.event_id == "event-1"
    assert store.remove("payments.charge", "event-3") is True
    assert store.remove("payments.charge", "event-3") is False
    assert store.purge() == 2
    assert store.count() == 0


def _place(backend: Backend, n: int) -> list[str]:
    c = backend.container
    c.create_product()(CreateProductCommand("MUG-1", "Mug", 500, True, 1000))
    return [
        str(c.place_order()(PlaceOrderCommand("cust-1", [RequestedLine("MUG-1", 1)])).order.id)
        for _ in range(n)
    ]


def _placed(backend: Backend) -> list[EventEnvelope]:
    return [e for batch in backend.committed for e in batch if e.type == "OrderPlaced"]


def test_a_poison_event_in_a_batch_is_parked_alone_and_the_rest_commit_once(
    backend: Backend, gateway: PoisonGateway
) -> None:
    orders = _place(backend, 6)
    poisoned = orders[2]
    gateway.poisoned.add(poisoned)
    dispatcher: HandlerDispatcher = backend.container.dispatcher()

    dispatcher.deliver(_placed(backend))  # one batch: returns, nothing blocks

    statuses = {o: backend.queries.get_order(o).status for o in orders}  # type: ignore[union-attr]
    assert statuses == {o: ("pending_payment" if o == poisoned else "paid") for o in orders}
    # The good ones were charged once, in the batch; only the poison one was retried.
    calls = gateway.ledger.charge_calls()
    assert calls == {o: 1 for o in orders if o != poisoned}
    letters = backend.container.dead_letters().peek()
    assert [(d.queue, d.attempts, d.event_type) for d in letters] == [
        ("orderly.payments.charge", 3, "OrderPlaced")
    ]
    assert "merchant config" in letters[0].error

    # Delivering the same batch again changes nothing (inbox) and parks nothing new.
    dispatcher.deliver([e for e in _placed(backend) if e.subject != poisoned])
    assert gateway.ledger.charge_calls() == calls
    assert backend.container.dead_letters().count() == 1

    gateway.poisoned.clear()  # the cause is fixed
    replayed = backend.container.dead_letters().replay()
    assert [d.event_id for d in replayed] == [letters[0].event_id]
    assert backend.queries.get_order(poisoned).status == "paid"  # type: ignore[union-attr]
    assert backend.container.dead_letters().count() == 0
    assert gateway.ledger.charges() == dict.fromkeys(orders, 1)


def test_operators_list_replay_and_purge_dead_letters_from_the_cli(
    backend: Backend, gateway: PoisonGateway
) -> None:
    if backend.name == "memory":
        pytest.skip("the CLI is a process of its own: memory storage is not shared with it")
    orders = _place(backend, 3)
    gateway.poisoned.update(orders[:2])
    backend.container.dispatcher().deliver(_placed(backend))
    env = {
        "ORDERLY_DATABASE_URL": backend.container.config.database_url(),
        "ORDERLY_MAX_DELIVERY_ATTEMPTS": "2",
    }
    runner = CliRunner()

    def orderly(*args: str) -> str:
        result = runner.invoke(cli, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    listed = json.loads(orderly("dlq", "list", "--json"))
    assert [(d["queue"], d["attempts"], d["event_type"]) for d in listed] == [
        ("orderly.payments.charge", 3, "OrderPlaced")
    ] * 2
    assert set(listed[0]) == {
        "event_id",
        "event_type",
        "queue",
        "attempts",
        "error",
        "dead_lettered_at",
        "correlation_id",
    }
    assert "merchant config" in orderly("dlq", "list")
    status = json.loads(orderly("outbox", "status", "--json"))
    assert status["dead_letters"] == 2
    assert "dead letters: 2" in orderly("outbox", "status")

    # The CLI's own gateway is the plain simulated one: the replay succeeds there.
    out = orderly("dlq", "replay", "--event-id", listed[0]["event_id"])
    assert out.strip() == "replayed 1 dead letters"
    assert [d["event_id"] for d in json.loads(orderly("dlq", "list", "--json"))] == [
        listed[1]["event_id"]
    ]
    assert orderly("dlq", "purge", "--yes").strip() == "purged 1 dead letters"
    assert orderly("dlq", "list").strip() == "the dead-letter queue is empty"
    assert orderly("dlq", "replay").strip() == "replayed 0 dead letters"
    assert json.loads(orderly("outbox", "status", "--json"))["dead_letters"] == 0
