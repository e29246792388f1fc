"""The write-side mappings spelled out for speed (adapters/sql/mapping.py) still say
what the column lists say: a column added to one and not the other fails here."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.sql.mapping import (
    ENVELOPE,
    PRODUCT,
    envelope_values,
    outbox_columns,
    product_values,
)
from core.domain.catalog import Product
from core.domain.events import EventEnvelope
from core.domain.money import Money

NOW = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_product_values_are_the_product_columns_and_the_price() -> None:
    product = Product("AB-1", "Mug", Money(1250, "EUR"), False, 3, NOW, NOW)
    expected = PRODUCT.of(product) | {"price": 1250, "currency": "EUR"}
    assert product_values(product) == expected


def test_outbox_columns_are_the_envelope_values_turned_by_column() -> None:
    envelopes = [
        EventEnvelope(f"e-{n}", "OrderPlaced", f"o-{n}", NOW, "c", 1, {"n": n}) for n in range(3)
    ]
    rows = [
        envelope_values(e) | {"created_at": NOW, "trace_context": "00-ab-cd-01"} for e in envelopes
    ]
    columns = outbox_columns(envelopes, NOW, "00-ab-cd-01")
    assert set(columns) == {*ENVELOPE.names, "payload", "created_at", "trace_context"}
    assert columns == {name: [row[name] for row in rows] for name in rows[0]}
