"""View rows at the edges: HTTP response structs copy them by field name (`ViewOut.of`),
the CLI prints them through one mapping (`view_dict`)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import msgspec
import pytest

from core.domain.events import EventEnvelope
from core.ports.queries import OrderLineView, OrderView, PrincipalView, ProductView, StockView
from core.use_cases.views import order_view_to_dict
from entrypoints.cli.output import view_dict
from entrypoints.http.schemas import (
    EventOut,
    OrderLineOut,
    OrderOut,
    ProductOut,
    StockOut,
)

PAIRS: list[tuple[type[msgspec.Struct], type]] = [
    (ProductOut, ProductView),
    (StockOut, StockView),
    (OrderOut, OrderView),
    (OrderLineOut, OrderLineView),  # an order's lines go out as the view holds them
    (EventOut, EventEnvelope),
]


@pytest.mark.parametrize(("struct", "view"), PAIRS, ids=[s.__name__ for s, _ in PAIRS])
def test_each_response_struct_has_its_views_fields_in_order(
    struct: type[msgspec.Struct], view: type
) -> None:
    assert struct.__struct_fields__ == tuple(f.name for f in dataclasses.fields(view))


NOW = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)


def _order() -> OrderView:
    return OrderView(
        "o-1", "c-1", "cancelled", [OrderLineView("MUG-01", 2, 1250, 2500)], 2500, "EUR",
        "customer_request", NOW, NOW, 3,
    )  # fmt: skip


def test_an_order_encodes_as_its_view_row_field_for_field() -> None:
    encoded = msgspec.json.decode(msgspec.json.encode(OrderOut.of(_order())))
    assert encoded == {
        "id": "o-1", "customer_id": "c-1", "status": "cancelled",
        "lines": [{"sku": "MUG-01", "quantity": 2, "unit_price": 1250, "line_total": 2500}],
        "total": 2500, "currency": "EUR", "cancel_reason": "customer_request",
        "created_at": "2026-12-01T10:30:00Z", "updated_at": "2026-12-01T10:30:00Z", "version": 3,
    }  # fmt: skip


def test_the_cli_prints_an_order_as_it_is_stored_for_replays() -> None:
    assert view_dict(_order()) == order_view_to_dict(_order())


def test_the_cli_prints_times_in_iso_8601_and_keeps_none() -> None:
    principal = PrincipalView("p-1", "alice", "customer", True, NOW, None)
    assert view_dict(principal) == {
        "id": "p-1", "name": "alice", "role": "customer", "active": True,
        "created_at": "2026-12-01T10:30:00+00:00", "revoked_at": None,
    }  # fmt: skip
