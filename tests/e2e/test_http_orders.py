"""docs/api.md, order rows: placing, listing, reading with ETags, cancelling, shipping,
events; ownership. Through Litestar's test client on memory and SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.http_support import STORAGES, Api, assert_problem, running_api


@pytest.fixture(params=STORAGES)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    with running_api(request.param, tmp_path) as running:
        api = running
        api.product("MUG-01", price=1250, on_hand=10)
        api.product("TEA-02", price=300, on_hand=5)
        yield api


def test_place_order_answers_201_with_location_etag_and_the_order(api: Api) -> None:
    r = api.place(api.alice, ("MUG-01", 2), ("TEA-02", 1))
    assert r.status_code == 201
    order = r.json()
    assert r.headers["location"] == f"/v1/orders/{order['id']}"
    assert r.headers["etag"] == f'"{order["version"]}"'
    assert "idempotent-replayed" not in r.headers
    assert order["customer_id"] == api.ids["alice"]
    assert order["status"] == "pending_payment" and order["cancel_reason"] is None
    assert order["lines"] == [
        {"sku": "MUG-01", "quantity": 2, "unit_price": 1250, "line_total": 2500},
        {"sku": "TEA-02", "quantity": 1, "unit_price": 300, "line_total": 300},
    ]
    assert order["total"] == 2800 and order["currency"] == "EUR"
    assert set(order) == {
        "id", "customer_id", "status", "lines", "total", "currency", "cancel_reason",
        "created_at", "updated_at", "version",
    }  # fmt: skip
    assert api.stock("MUG-01")["reserved"] == 2
    # The saga charges it (in the request thread on memory, the relay thread on SQLite).
    assert api.wait_status(order["id"], "paid")["version"] == order["version"] + 1


def test_insufficient_stock_is_409_with_shortages_and_reserves_nothing(api: Api) -> None:
    r = api.place(api.alice, ("MUG-01", 3), ("TEA-02", 6))
    problem = assert_problem(r, 409, "insufficient_stock")
    assert problem["shortages"] == [{"sku": "TEA-02", "requested": 6, "available": 5}]
    assert api.stock("MUG-01")["reserved"] == 0, "all or nothing"
    assert api.client.get("/v1/orders", headers=api.alice).json()["items"] == []


def test_unknown_or_inactive_sku_is_422(api: Api) -> None:
    problem = assert_problem(api.place(api.alice, ("NOPE-9", 1)), 422, "unorderable_product")
    assert problem["errors"][0]["field"] == "lines[0].sku"
    api.client.patch("/v1/products/TEA-02", json={"active": False}, headers=api.admin)
    problem = assert_problem(
        api.place(api.alice, ("MUG-01", 1), ("TEA-02", 1)), 422, "unorderable_product"
    )
    assert "TEA-02" in problem["detail"]
    assert api.stock("MUG-01")["reserved"] == 0


def test_repeated_sku_is_422_naming_it(api: Api) -> None:
    problem = assert_problem(
        api.place(api.alice, ("MUG-01", 1), ("MUG-01", 2)), 422, "validation_error"
    )
    assert "MUG-01" in problem["detail"]
    assert {"field": "lines[1].sku", "message": "SKU MUG-01 is repeated"} in problem["errors"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": []}, "lines"),
        ({"lines": [{"sku": "MUG-01", "quantity": 0}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "MUG-01", "quantity": 1001}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "MUG-01"}]}, "lines[0].quantity"),
        ({"lines": [{"sku": "m", "quantity": 1}]}, "lines[0].sku"),
        ({"lines": [{"sku": f"S-{n}", "quantity": 1} for n in range(101)]}, "lines"),
        ({"items": []}, "items"),
    ],
)
def test_malformed_order_is_422_naming_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    r = api.client.post("/v1/orders", json=body, headers=api.alice)
    problem = assert_problem(r, 422, "validation_error")
    assert problem["errors"][0]["field"] == field


def test_only_customers_place_orders(api: Api) -> None:
    assert_problem(api.place(api.admin, ("MUG-01", 1)), 403, "forbidden")


def test_customers_list_their_own_orders_newest_first(api: Api) -> None:
    first = api.order(api.alice, ("MUG-01", 1))
    api.order(api.bob, ("MUG-01", 1))
    second = api.order(api.alice, ("TEA-02", 1))
    page = api.client.get("/v1/orders", headers=api.alice).json()
    assert [o["id"] for o in page["items"]] == [second["id"], first["id"]]
    assert page["next_cursor"] is None
    # A customer's customer_id filter cannot widen the view.
    other = api.client.get(f"/v1/orders?customer_id={api.ids['bob']}", headers=api.alice).json()
    assert [o["id"] for o in other["items"]] == [second["id"], first["id"]]


def test_admins_list_everything_or_one_customer_and_filter_on_status(api: Api) -> None:
    a = api.order(api.alice, ("MUG-01", 1))
    b = api.order(api.bob, ("MUG-01", 1))
    api.wait_status(a["id"], "paid")
    api.wait_status(b["id"], "paid")
    api.client.post(f"/v1/orders/{a['id']}/cancel", headers=api.alice)
    everyone = api.client.get("/v1/orders", headers=api.admin).json()["items"]
    assert [o["id"] for o in everyone] == [b["id"], a["id"]]
    bobs = api.client.get(f"/v1/orders?customer_id={api.ids['bob']}", headers=api.admin).json()
    assert [o["id"] for o in bobs["items"]] == [b["id"]]
    cancelled = api.client.get("/v1/orders?status=cancelled", headers=api.admin).json()
    assert [o["id"] for o in cancelled["items"]] == [a["id"]]
    paid = api.client.get("/v1/orders?status=paid", headers=api.admin).json()
    assert [o["id"] for o in paid["items"]] == [b["id"]]
    assert_problem(
        api.client.get("/v1/orders?status=lost", headers=api.admin), 422, "validation_error"
    )


def test_orders_paginate_stably_while_orders_are_placed(api: Api) -> None:
    api.client.put("/v1/stock/TEA-02", json={"on_hand": 1000}, headers=api.admin)
    placed = [api.order(api.alice, ("TEA-02", 1))["id"] for _ in range(11)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        url = "/v1/orders?limit=4" + (f"&cursor={cursor}" if cursor else "")
        page = api.client.get(url, headers=api.alice).json()
        seen.extend(o["id"] for o in page["items"])
        pages += 1
        api.order(api.alice, ("TEA-02", 1))  # newer than every page: never shows up later
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(placed)), "each order once, newest first, none skipped"
    assert pages == 3


def test_get_order_has_strong_etag_and_if_none_match_gives_304(api: Api) -> None:
    order = api.order(api.alice, ("MUG-01", 1))
    paid = api.wait_status(order["id"], "paid")
    r = api.client.get(f"/v1/orders/{order['id']}", headers=api.alice)
    tag = r.headers["etag"]
    assert tag == f'"{paid["version"]}"' and not tag.startswith("W/")
    not_modified = api.client.get(
        f"/v1/orders/{order['id']}", headers={**api.alice, "If-None-Match": tag}
    )
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == tag
    for header in ('"1", ' + tag, "*", f"W/{tag}"):
        r = api.client.get(
            f"/v1/orders/{order['id']}", headers={**api.alice, "If-None-Match": header}
        )
        assert r.status_code == 304, header
    stale = api.client.get(
        f"/v1/orders/{order['id']}", headers={**api.alice, "If-None-Match": '"1"'}
    )
    assert stale.status_code == 200 and stale.json() == paid
    # After a change the old tag no longer matches: the round trip shows the new state.
    cancelled = api.client.post(f"/v1/orders/{order['id']}/cancel", headers=api.alice)
    assert cancelled.headers["etag"] != tag
    fresh = api.client.get(f"/v1/orders/{order['id']}", headers={**api.alice, "If-None-Match": tag})
    assert fresh.status_code == 200 and fresh.json()["status"] == "cancelled"
    assert fresh.headers["etag"] == cancelled.headers["etag"]


def test_another_customers_order_is_404_but_admins_see_it(api: Api) -> None:
    order = api.order(api.alice, ("MUG-01", 1))
    oid = order["id"]
    assert_problem(api.client.get(f"/v1/orders/{oid}", headers=api.bob), 404, "not_found")
    assert_problem(api.client.get(f"/v1/orders/{oid}/events", headers=api.bob), 404, "not_found")
    assert_problem(api.client.post(f"/v1/orders/{oid}/cancel", headers=api.bob), 404, "not_found")
    assert api.client.get(f"/v1/orders/{oid}", headers=api.admin).status_code == 200
    assert_problem(api.client.get("/v1/orders/no-such-order", headers=api.admin), 404, "not_found")


def test_cancel_releases_stock_and_repeats_as_a_no_op(api: Api) -> None:
    order = api.order(api.alice, ("MUG-01", 4))
    api.wait_status(order["id"], "paid")
    r = api.client.post(f"/v1/orders/{order['id']}/cancel", headers=api.alice)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "cancelled" and body["cancel_reason"] == "customer_request"
    assert r.headers["etag"] == f'"{body["version"]}"'
    assert api.stock("MUG-01")["reserved"] == 0
    again = api.client.post(f"/v1/orders/{order['id']}/cancel", headers=api.alice)
    assert again.status_code == 200 and again.json() == body


def test_admin_cancel_records_admin_request(api: Api) -> None:
    order = api.order(api.alice, ("MUG-01", 1))
    r = api.client.post(f"/v1/orders/{order['id']}/cancel", headers=api.admin)
    assert r.json()["cancel_reason"] == "admin_request"


def test_cancel_honours_if_match(api: Api) -> None:
    order = api.order(api.alice, ("MUG-01", 1))
    current = api.wait_status(order["id"], "paid")
    url = f"/v1/orders/{order['id']}/cancel"
    stale = '"1"'
    problem = assert_problem(
        api.client.post(url, headers={**api.alice, "If-Match": stale}), 412, "version_mismatch"
    )
    assert "version" in problem["detail"]
    for never in (f'W/"{current["version"]}"', "garbage"):
        r = api.client.post(url, headers={**api.alice, "If-Match": never})
        assert_problem(r, 412, "version_mismatch")
    assert api.get_order(order["id"])["status"] == "paid", "a failed precondition changes nothing"
    # Another customer learns nothing from a precondition: still 404.
    assert_problem(api.client.post(url, headers={**api.bob, "If-Match": stale}), 404, "not_found")
    tag = api.client.get(f"/v1/orders/{order['id']}", headers=api.alice).headers["etag"]
    r = api.client.post(url, headers={**api.alice, "If-Match": f'"99", {tag}'})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


def test_ship_needs_a_paid_order_and_an_admin(api: Api) -> None:
    order = api.order(api.alice, ("MUG-01", 3))
    url = f"/v1/orders/{order['id']}/ship"
    assert_problem(api.client.post(url, headers=api.alice), 403, "forbidden")
    api.wait_status(order["id"], "paid")
    r = api.client.post(url, headers=api.admin)
    assert r.status_code == 200 and r.json()["status"] == "shipped"
    assert api.stock("MUG-01") == {"sku": "MUG-01", "on_hand": 7, "reserved": 0, "available": 7}
    again = api.client.post(url, headers=api.admin)
    assert again.status_code == 200 and again.json() == r.json()
    r = api.client.post(f"/v1/orders/{order['id']}/cancel", headers=api.alice)
    assert_problem(r, 409, "invalid_transition")


def test_ship_of_unpaid_order_is_409(api: Api) -> None:
    order = api.order(api.alice, ("MUG-01", 1))
    api.client.post(f"/v1/orders/{order['id']}/cancel", headers=api.alice)
    r = api.client.post(f"/v1/orders/{order['id']}/ship", headers=api.admin)
    assert_problem(r, 409, "invalid_transition")
    assert_problem(api.client.post("/v1/orders/no-such/ship", headers=api.admin), 404, "not_found")


def test_declined_payment_cancels_and_releases(api: Api) -> None:
    api.product("GOLD-1", price=100_000_001, on_hand=1)
    order = api.order(api.alice, ("GOLD-1", 1))
    cancelled = api.wait_status(order["id"], "cancelled")
    assert cancelled["cancel_reason"] == "payment_declined"
    assert api.stock("GOLD-1")["reserved"] == 0


def test_events_are_the_history_oldest_first_with_the_request_id(api: Api) -> None:
    placed = api.place(api.alice, ("MUG-01", 1), **{"X-Request-ID": "req-place-1"})
    order = placed.json()
    assert placed.headers["x-request-id"] == "req-place-1"
    api.wait_status(order["id"], "paid")
    cancel = api.client.post(f"/v1/orders/{order['id']}/cancel", headers=api.alice)
    r = api.client.get(f"/v1/orders/{order['id']}/events", headers=api.alice)
    assert r.status_code == 200
    events = r.json()["items"]
    assert [e["type"] for e in events] == ["OrderPlaced", "OrderPaid", "OrderCancelled"]
    assert all(e["subject"] == order["id"] and e["schema_version"] == 1 for e in events)
    # The request id is the correlation id, carried on by the saga's own event.
    assert events[0]["correlation_id"] == events[1]["correlation_id"] == "req-place-1"
    assert events[2]["correlation_id"] == cancel.headers["x-request-id"]
    assert events[0]["payload"]["total"] == 1250
    times = [e["occurred_at"] for e in events]
    assert times == sorted(times)
    assert api.client.get(f"/v1/orders/{order['id']}/events", headers=api.admin).json() == r.json()
