"""Every state change emits its event, stamped and stored with the change (docs/domain.md)."""

from __future__ import annotations

import json
from dataclasses import MISSING, FrozenInstanceError, fields
from datetime import UTC, datetime, timedelta

import pytest

from core.domain.errors import DomainError
from core.domain.events import (
    EVENT_TYPES,
    SCHEMA_VERSION,
    DomainEvent,
    EventEnvelope,
    OrderCancelled,
    OrderPlaced,
    ProductCreated,
    StockAdjusted,
)
from core.ports.correlation import correlation
from core.use_cases.catalog import CreateProductCommand, UpdateProductCommand
from core.use_cases.inventory import AdjustStockCommand, SetStockCommand
from core.use_cases.ordering import ShipOrderCommand
from tests.unit.shop import ADMIN, ALICE, Shop


def _new(shop: Shop, since: int) -> list[EventEnvelope]:
    return [row.envelope for row in shop.store.outbox[since:]]


def _check_envelope(e: EventEnvelope, type_: str, subject: str, correlation_id: str) -> None:
    assert (e.type, e.subject, e.correlation_id) == (type_, subject, correlation_id)
    assert e.schema_version == SCHEMA_VERSION == 1
    assert e.event_id and e.occurred_at.tzinfo is not None
    assert type(e.to_event()) is EVENT_TYPES[type_]


def test_catalogue_and_stock_changes_emit_events(shop: Shop) -> None:
    c = shop.c
    with correlation("corr-create"):
        c.create_product()(CreateProductCommand("AB-1", "Mug", 500, True, 8))
    created, initial = _new(shop, 0)
    _check_envelope(created, "ProductCreated", "AB-1", "corr-create")
    assert created.payload == {
        "sku": "AB-1",
        "name": "Mug",
        "price": 500,
        "currency": "EUR",
        "active": True,
    }
    _check_envelope(initial, "StockAdjusted", "AB-1", "corr-create")
    assert initial.payload == {
        "sku": "AB-1",
        "on_hand": 8,
        "reserved": 0,
        "delta": 8,
        "reason": "initial stock",
    }

    with correlation("corr-update"):
        c.update_product()(UpdateProductCommand("AB-1", price=650, active=False))
    (updated,) = _new(shop, 2)
    _check_envelope(updated, "ProductUpdated", "AB-1", "corr-update")
    assert updated.payload == {"sku": "AB-1", "changes": {"price": 650, "active": False}}
    assert updated.occurred_at == shop.store.products["AB-1"].updated_at

    with correlation("corr-set"):
        c.set_stock()(SetStockCommand("AB-1", 20))
    with correlation("corr-adjust"):
        c.adjust_stock()(AdjustStockCommand("AB-1", -5, "breakage"))
    set_, adjusted = _new(shop, 3)
    _check_envelope(set_, "StockAdjusted", "AB-1", "corr-set")
    _check_envelope(adjusted, "StockAdjusted", "AB-1", "corr-adjust")
    assert (set_.payload["delta"], set_.payload["on_hand"], set_.payload["reason"]) == (
        12,
        20,
        "set",
    )
    assert (adjusted.payload["delta"], adjusted.payload["on_hand"]) == (-5, 15)
    assert adjusted.payload["reason"] == "breakage"
    assert created.occurred_at < updated.occurred_at < set_.occurred_at < adjusted.occurred_at


def test_order_changes_emit_events(shop: Shop) -> None:
    shop.product("AB-1", price=250, on_hand=10)
    shop.product("CD-2", price=40, on_hand=10)
    since = len(shop.store.outbox)
    shipped = shop.place_result({"AB-1": 2, "CD-2": 3}, correlation_id="corr-a").order.id
    placed, paid = _new(shop, since)
    _check_envelope(placed, "OrderPlaced", shipped, "corr-a")
    assert placed.payload == {
        "order_id": shipped,
        "customer_id": ALICE.principal_id,
        "total": 620,
        "currency": "EUR",
        "lines": [
            {"sku": "AB-1", "quantity": 2, "unit_price": 250},
            {"sku": "CD-2", "quantity": 3, "unit_price": 40},
        ],
    }
    assert placed.occurred_at == shop.order(shipped).created_at
    _check_envelope(paid, "OrderPaid", shipped, "corr-a")
    assert paid.payload == {
        "order_id": shipped,
        "customer_id": ALICE.principal_id,
        "amount": 620,
        "currency": "EUR",
    }

    since = len(shop.store.outbox)
    with correlation("corr-ship"):
        shop.c.ship_order()(ShipOrderCommand(shipped, ADMIN))
    (ship,) = _new(shop, since)
    _check_envelope(ship, "OrderShipped", shipped, "corr-ship")
    assert ship.payload == {"order_id": shipped, "customer_id": ALICE.principal_id}
    assert ship.occurred_at == shop.order(shipped).updated_at

    cancelled = shop.place({"AB-1": 1})
    since = len(shop.store.outbox)
    shop.cancel(cancelled, ALICE, correlation_id="corr-cancel")
    (cancel,) = _new(shop, since)
    _check_envelope(cancel, "OrderCancelled", cancelled, "corr-cancel")
    assert cancel.payload == {
        "order_id": cancelled,
        "customer_id": ALICE.principal_id,
        "reason": "customer_request",
        "was_paid": True,
    }


def test_every_command_gets_its_own_correlation_id_and_every_event_its_own_id(shop: Shop) -> None:
    shop.product("AB-1", on_hand=10)
    shop.product("CD-2", on_hand=10)
    first, second = shop.place({"AB-1": 1}), shop.place({"CD-2": 1})
    envelopes = shop.envelopes()
    assert len({e.event_id for e in envelopes}) == len(envelopes)
    correlation = {e.subject: e.correlation_id for e in envelopes if e.type == "OrderPlaced"}
    assert correlation[first] != correlation[second]


def test_no_op_and_refused_commands_emit_nothing(shop: Shop) -> None:
    shop.product("AB-1", price=100, on_hand=10, name="Mug")
    order_id = shop.place({"AB-1": 1})
    shop.cancel(order_id)
    since = len(shop.store.outbox)
    shop.set_stock("AB-1", 10)  # unchanged
    shop.update("AB-1", name="Mug", price=100)  # unchanged
    shop.cancel(order_id)  # already cancelled
    for refused in (
        lambda: shop.adjust("AB-1", -11),
        lambda: shop.ship(order_id),
        lambda: shop.place({"AB-1": 11}),
        lambda: shop.update("AB-1", price=-1),
    ):
        with pytest.raises(DomainError):
            refused()
    assert _new(shop, since) == []


def test_an_envelope_survives_serialisation() -> None:
    event = OrderCancelled(
        occurred_at=datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC) + timedelta(hours=1),
        order_id="o-1",
        customer_id="c-1",
        reason="payment_timeout",
        was_paid=False,
    )
    envelope = EventEnvelope.wrap(event, "ev-1", "corr-1")
    wire = json.dumps(envelope.to_dict())
    back = EventEnvelope.from_dict(json.loads(wire))
    assert back == envelope
    assert back.to_event() == event
    assert back.to_dict()["schema_version"] == SCHEMA_VERSION


def test_a_wrapped_envelope_is_the_one_the_constructor_builds() -> None:
    # wrap fills the envelope's __dict__ itself (faster than the frozen __init__): it
    # must leave what the constructor leaves, in the same order, and stay frozen.
    assert not hasattr(EventEnvelope, "__post_init__")
    assert all(f.default is MISSING and f.default_factory is MISSING for f in fields(EventEnvelope))
    now = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    for event in (
        StockAdjusted(now, "AB-1", 5, 2, -1, "count"),
        ProductCreated(now, "AB-1", "Mug", 1250, "EUR", True),
        OrderPlaced(now, "o-1", "c-1", 300, "EUR", [{"sku": "AB-1", "quantity": 1}]),
    ):
        wrapped = EventEnvelope.wrap(event, "ev-1", "corr-1")
        built = EventEnvelope(
            event_id="ev-1",
            type=event.type_name,
            subject=event.subject,
            occurred_at=now,
            correlation_id="corr-1",
            schema_version=SCHEMA_VERSION,
            payload=event.payload(),
        )
        assert type(wrapped) is EventEnvelope
        assert wrapped == built
        assert list(vars(wrapped).items()) == list(vars(built).items())
        with pytest.raises(FrozenInstanceError):
            wrapped.event_id = "changed"  # type: ignore[misc]


@pytest.mark.parametrize("cls", [EVENT_TYPES[name] for name in sorted(EVENT_TYPES)])
def test_a_payload_is_every_field_but_occurred_at_in_field_order(cls: type[DomainEvent]) -> None:
    # payload() copies the instance's __dict__: it must hold the fields and nothing else.
    now = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    names = [f.name for f in fields(cls) if f.name != "occurred_at"]
    event = cls(now, *(f"value-of-{name}" for name in names))
    payload = event.payload()
    assert list(payload.items()) == [(name, f"value-of-{name}") for name in names]
    assert payload is not event.payload()  # a copy each time: the event stays as it was
    payload["extra"] = 1
    assert "extra" not in event.payload() and event.occurred_at == now
