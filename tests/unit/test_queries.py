"""Read queries: pagination, filters, and an order's event history (docs/domain.md, docs/api.md)."""

from __future__ import annotations

from typing import Any

import pytest

from core.domain.errors import NotFound, ValidationError
from core.domain.events import SCHEMA_VERSION
from core.ports.queries import OrderView, Page, ProductView
from core.use_cases.support import encode_cursor
from tests.unit.conftest import MakeShop
from tests.unit.shop import ADMIN, ALICE, BOB, Shop


def _all_products(shop: Shop, limit: int, **filters: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page: Page[ProductView] = shop.c.product_queries().page(
            limit=limit, cursor=cursor, **filters
        )
        assert len(page.items) <= limit
        seen.extend(p.sku for p in page.items)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_products_page_by_sku_with_an_active_filter(shop: Shop) -> None:
    for n in range(7):
        shop.product(f"P-{n}", active=n % 3 != 0)
    assert _all_products(shop, 3) == [f"P-{n}" for n in range(7)]
    assert _all_products(shop, 2, active=True) == ["P-1", "P-2", "P-4", "P-5"]
    assert _all_products(shop, 100, active=False) == ["P-0", "P-3", "P-6"]
    last = shop.c.product_queries().page(limit=7)
    assert last.next_cursor is None  # exactly one full page: no empty page after it


def test_product_cursors_are_stable_while_products_are_added(shop: Shop) -> None:
    for sku in ["B-1", "D-1", "F-1", "H-1"]:
        shop.product(sku)
    queries = shop.c.product_queries()
    first = queries.page(limit=2)
    assert [p.sku for p in first.items] == ["B-1", "D-1"]
    shop.product("A-1")  # before the cursor: not seen in later pages
    shop.product("E-1")  # after it: seen in its place
    rest = queries.page(limit=10, cursor=first.next_cursor)
    assert [p.sku for p in rest.items] == ["E-1", "F-1", "H-1"]


def test_one_product_with_its_available_stock(make_shop: MakeShop) -> None:
    shop = make_shop(deliver=False)
    shop.product("AB-1", price=120, on_hand=9)
    shop.place({"AB-1": 4})
    view = shop.c.product_queries().get("AB-1")
    assert (view.price, view.available) == (120, 5)
    assert shop.stock("AB-1").on_hand == 9
    with pytest.raises(NotFound):
        shop.c.product_queries().get("NOPE-1")


def _all_orders(shop: Shop, actor: Any, limit: int, **filters: Any) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page: Page[OrderView] = shop.c.order_queries().page(
            actor, limit=limit, cursor=cursor, **filters
        )
        seen.extend(o.id for o in page.items)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def test_orders_newest_first_with_status_and_customer_filters(make_shop: MakeShop) -> None:
    shop = make_shop(deliver=False)
    shop.product("AB-1", on_hand=100)
    placed = [shop.place({"AB-1": 1}, ALICE if n % 2 == 0 else BOB) for n in range(9)]
    cancelled = placed[1::3]
    for order_id in cancelled:
        shop.cancel(order_id)
    newest_first = placed[::-1]
    assert _all_orders(shop, ADMIN, 4) == newest_first
    assert _all_orders(shop, ADMIN, 2, status="cancelled") == cancelled[::-1]
    assert _all_orders(shop, ADMIN, 2, status="pending_payment") == [
        o for o in newest_first if o not in cancelled
    ]
    assert _all_orders(shop, ADMIN, 3, customer_id=BOB.principal_id) == placed[1::2][::-1]
    assert _all_orders(shop, ALICE, 3, status="cancelled") == [
        o for o in cancelled[::-1] if o in placed[0::2]
    ]
    assert _all_orders(shop, ADMIN, 3, status="shipped") == []


def test_order_cursors_are_stable_while_orders_are_placed(shop: Shop) -> None:
    shop.product("AB-1", on_hand=100)
    original = [shop.place({"AB-1": 1}) for _ in range(6)]
    queries = shop.c.order_queries()
    seen: list[str] = []
    page = queries.page(ADMIN, limit=2)
    while True:
        seen.extend(o.id for o in page.items)
        shop.place({"AB-1": 1})  # newer rows arrive between page requests
        if page.next_cursor is None:
            break
        page = queries.page(ADMIN, limit=2, cursor=page.next_cursor)
    assert seen == original[::-1]  # no row twice, none skipped


def test_order_history_oldest_first_with_correlation_ids(shop: Shop) -> None:
    shop.product("AB-1", on_hand=5)
    result = shop.place_result({"AB-1": 1}, correlation_id="req-place")
    order_id = result.order.id
    shop.ship(order_id)  # no correlation id given: the unit of work makes one
    history = shop.c.order_queries().events(order_id, ALICE)
    assert [e.type for e in history] == ["OrderPlaced", "OrderPaid", "OrderShipped"]
    assert [e.occurred_at for e in history] == sorted(e.occurred_at for e in history)
    # The saga's OrderPaid carries the correlation id of the request that placed it.
    assert [e.correlation_id for e in history[:2]] == ["req-place", "req-place"]
    assert history[2].correlation_id not in ("", "req-place")
    assert {e.schema_version for e in history} == {SCHEMA_VERSION} == {1}
    assert {e.subject for e in history} == {order_id}
    assert len({e.event_id for e in history}) == 3


@pytest.mark.parametrize("limit", [0, 101, -1, True, 2.0])
def test_limit_is_1_to_100(shop: Shop, limit: Any) -> None:
    with pytest.raises(ValidationError):
        shop.c.product_queries().page(limit=limit)
    with pytest.raises(ValidationError):
        shop.c.order_queries().page(ADMIN, limit=limit)


def test_an_unknown_status_filter_is_refused(shop: Shop) -> None:
    with pytest.raises(ValidationError, match="unknown status"):
        shop.c.order_queries().page(ADMIN, status="lost")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "",
        "é",
        encode_cursor({"s": "AB-1"}),  # a products cursor
        encode_cursor({"c": 5, "i": "x"}),
        encode_cursor({"c": "yesterday", "i": "x"}),
        encode_cursor({"c": "2026-01-01T00:00:00", "i": "x"}),  # no time zone
        encode_cursor([1, 2]),  # type: ignore[arg-type]
        encode_cursor({"deep": [[[[]]]]}) + "[" * 10,
        ("W" * 40000),  # decodes to bytes that are not JSON
    ],
)
def test_a_cursor_we_did_not_issue_is_a_validation_error(shop: Shop, cursor: str) -> None:
    shop.product("AB-1", on_hand=5)
    shop.place({"AB-1": 1})
    with pytest.raises(ValidationError):
        shop.c.order_queries().page(ADMIN, cursor=cursor)


def test_a_deeply_nested_cursor_is_a_validation_error(shop: Shop) -> None:
    import base64

    nested = base64.urlsafe_b64encode(b"[" * 100_000).decode()
    with pytest.raises(ValidationError):
        shop.c.order_queries().page(ADMIN, cursor=nested)
    with pytest.raises(ValidationError):
        shop.c.product_queries().page(cursor=nested)
    with pytest.raises(ValidationError):
        shop.c.product_queries().page(cursor=encode_cursor({"s": 5}))


def test_outbox_status_reports_backlog_and_age(make_shop: MakeShop) -> None:
    shop = make_shop(deliver=False)
    outbox = shop.c.outbox_queries()
    assert (outbox.status().backlog, outbox.status().oldest_age_seconds) == (0, None)
    shop.product("AB-1", on_hand=5)  # ProductCreated + StockAdjusted
    shop.clock.advance(30)
    status = outbox.status()
    assert status.backlog == 2
    assert status.oldest_age_seconds is not None and 30 <= status.oldest_age_seconds < 31
    shop.start_delivery()
    shop.relay.drain()
    assert outbox.status().backlog == 0
