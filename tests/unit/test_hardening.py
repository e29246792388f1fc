"""Issue 11 at the unit level: the domain's text and limit rules, event payload versions,
strict If-Match parsing, and that the notifier and simulated gateway keep nothing per order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.notifications.log import LogNotifier
from adapters.payments.ledger import MemoryLedger
from adapters.payments.simulated import SimulatedGateway
from core.domain.catalog import Product, validate_name, validate_price
from core.domain.errors import ValidationError
from core.domain.events import (
    SCHEMA_VERSION,
    EventEnvelope,
    OrderPlaced,
    UnsupportedEventVersion,
)
from core.domain.limits import MAX_ORDER_TOTAL, MAX_PRICE, MAX_STOCK
from core.domain.money import Money
from core.domain.orders import Order, OrderLine
from core.domain.stock import StockItem
from core.domain.text import is_correlation_id, is_nonblank_text, is_plausible_id, is_text
from core.ports.notifications import Notification
from entrypoints.http.etags import expected_version, if_match_versions
from tests.sent_notifications import SentNotifications

NOW = datetime(2026, 1, 1, tzinfo=UTC)


# --- Text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["\x00", "a\x00b", "\ud800", "a\udfff", "\x1b[31m", "\x7f", "\x85"]
)
def test_control_characters_nul_and_surrogates_are_not_text(value: str) -> None:
    assert not is_text(value)
    assert not is_nonblank_text(value)
    assert not is_plausible_id(value)
    with pytest.raises(ValidationError):
        validate_name(value)


@pytest.mark.parametrize("value", ["Coffee mug", "Kaffeebecher ä", "茶杯", "mug 🙂", "a"])
def test_ordinary_text_is_text(value: str) -> None:
    assert is_text(value) and is_nonblank_text(value)
    assert validate_name(value) == value


@pytest.mark.parametrize("value", ["", " ", "\u3000", "abc\n", "\nabc"])
def test_blank_text_or_a_newline_is_not_a_name(value: str) -> None:
    assert not is_nonblank_text(value)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("a", True),
        ("r" * 64, True),
        ("Req.id_-9", True),
        ("r" * 65, False),
        ("", False),
        ("a:b", False),
        ("a b", False),
        ("ünï", False),
        ("a\n", False),
        (None, False),
    ],
)
def test_a_correlation_id_is_what_its_column_can_store(value: str | None, ok: bool) -> None:
    assert is_correlation_id(value) is ok


# --- Limits ---------------------------------------------------------------------------------


def test_the_limits_fit_their_columns() -> None:
    assert MAX_STOCK < 2**31 - 1
    assert MAX_ORDER_TOTAL < 2**63 - 1


def test_a_price_past_the_cap_is_refused_on_create_and_update() -> None:
    assert validate_price(MAX_PRICE) == MAX_PRICE
    with pytest.raises(ValidationError):
        validate_price(MAX_PRICE + 1)
    with pytest.raises(ValidationError):
        Product.create("MUG-01", "Mug", Money(MAX_PRICE + 1, "EUR"), True, NOW)
    product = Product.create("MUG-01", "Mug", Money(5, "EUR"), True, NOW)
    with pytest.raises(ValidationError):
        product.update(NOW, price=MAX_PRICE + 1)
    assert product.price.amount == 5


def test_a_stored_product_past_the_cap_still_loads_to_be_repriced() -> None:
    product = Product("MUG-01", "Legacy\tname", Money(2**63 - 1, "EUR"))
    assert product.update(NOW, name="Mug", price=100)
    assert (product.name, product.price.amount) == ("Mug", 100)


def test_stock_never_goes_past_the_limit() -> None:
    item = StockItem("MUG-01")
    item.adjust(MAX_STOCK, "delivery", NOW)
    with pytest.raises(ValidationError):
        item.adjust(1, "one more", NOW)
    with pytest.raises(ValidationError):
        item.set_on_hand(MAX_STOCK + 1, NOW)
    assert item.on_hand == MAX_STOCK


@pytest.mark.parametrize("reason", ["a\x00", "\ud800", " ", "x" * 201, "line\nbreak"])
def test_a_stock_reason_follows_the_text_rule(reason: str) -> None:
    with pytest.raises(ValidationError):
        StockItem("MUG-01", on_hand=5).adjust(1, reason, NOW)


def test_an_order_total_that_would_overflow_64_bits_is_refused() -> None:
    lines = [OrderLine("GOLD-1", 2, 2**63 - 1)]
    with pytest.raises(ValidationError, match="total"):
        Order.place("o-1", "c-1", lines, "EUR", NOW)
    largest = [OrderLine(f"SKU-{i:03d}", 1000, MAX_PRICE) for i in range(100)]
    assert Order.place("o-2", "c-1", largest, "EUR", NOW).total.amount == MAX_ORDER_TOTAL


# --- If-Match -------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ['"²"', '"¹"', '"1²³"', '"١"', '"٣"', '"99999999999999999999"'])  # noqa: RUF001
def test_if_match_takes_ascii_digits_only(header: str) -> None:
    assert if_match_versions(header) == set()
    assert expected_version(header, lambda: 1) == -1


def test_if_match_still_reads_our_tags() -> None:
    assert if_match_versions('"3", W/"4", "x"') == {3}
    assert expected_version('"3"', lambda: 3) == 3


# --- Event payload versions -----------------------------------------------------------------


def _placed(payload: dict[str, object], version: int = SCHEMA_VERSION) -> EventEnvelope:
    return EventEnvelope(
        event_id="e-1",
        type="OrderPlaced",
        subject="o-1",
        occurred_at=NOW,
        correlation_id="c",
        schema_version=version,
        payload=payload,
    )


BASE = {"order_id": "o-1", "customer_id": "c-1", "total": 500, "currency": "EUR", "lines": []}


def test_a_payload_with_a_field_this_consumer_does_not_know_is_read() -> None:
    event = _placed({**BASE, "gift_wrap": True, "channel": "web"}).to_event()
    assert isinstance(event, OrderPlaced)
    assert (event.order_id, event.total) == ("o-1", 500)


def test_an_event_from_a_newer_producer_is_refused_not_misread() -> None:
    with pytest.raises(UnsupportedEventVersion):
        _placed(BASE, SCHEMA_VERSION + 1).to_event()


@pytest.mark.parametrize("version", [0, -1])
def test_an_event_with_no_valid_version_is_refused(version: int) -> None:
    with pytest.raises(UnsupportedEventVersion):
        _placed(BASE, version).to_event()


def test_an_event_from_an_older_producer_is_upcast() -> None:
    """As if version 2 renamed `total` to `amount_total`: a version-1 payload is upcast."""
    v1 = {"order_id": "o-1", "customer_id": "c-1", "amount_total": 500, "currency": "EUR"}

    def rename(payload: dict[str, object]) -> dict[str, object]:
        payload = dict(payload)
        payload["total"] = payload.pop("amount_total")
        return payload

    event = _placed(v1, 1).to_event(upcasters={("OrderPlaced", 1): rename}, current=2)
    assert isinstance(event, OrderPlaced)
    assert event.total == 500


def test_an_older_payload_missing_a_later_defaulted_field_is_read() -> None:
    payload = {k: v for k, v in BASE.items() if k != "lines"}
    event = _placed(payload).to_event()
    assert isinstance(event, OrderPlaced) and event.lines == []


# --- Bounded memory -------------------------------------------------------------------------


def test_the_log_notifier_keeps_nothing_its_log_line_is_the_record(
    sent_notifications: SentNotifications,
) -> None:
    notifier = LogNotifier()
    sent = [Notification("order_paid", f"o-{n}", "c-1", f"e-{n}", "") for n in range(300)]
    for notification in sent:
        notifier.send(notification)
    assert sent_notifications.sent == sent
    assert vars(notifier) == {}  # nothing per order (nor anything else) in the process


def test_the_simulated_gateway_keeps_its_ledger_in_its_store_only() -> None:
    """Two gateways on one store (two processes on one ledger file) share every decision:
    the gateway itself holds nothing per order. tests/contract/test_payments_ledger.py
    measures the memory on the SQLite store."""
    store = MemoryLedger()
    first, second = SimulatedGateway(store), SimulatedGateway(store, decline_above=0)
    captured = [first.charge(f"o-{n}", Money(100, "EUR")) for n in range(300)]
    again = [second.charge(f"o-{n}", Money(100, "EUR")) for n in range(300)]
    assert again == captured  # the second gateway would decline, but the store decided
    assert [c.outcome for c in store.calls()] == ["captured"] * 300 + ["replayed"] * 300
