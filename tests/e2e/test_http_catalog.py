"""docs/api.md, catalogue and stock rows, through Litestar's test client on memory and SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.http_support import STORAGES, Api, assert_problem, running_api


@pytest.fixture(params=STORAGES)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    with running_api(request.param, tmp_path) as running:
        yield running


def test_create_product_answers_201_with_location_and_the_product(api: Api) -> None:
    r = api.client.post(
        "/v1/products",
        json={"sku": "MUG-01", "name": "Mug", "price": 1250, "on_hand": 7},
        headers=api.admin,
    )
    assert r.status_code == 201
    assert r.headers["location"] == "/v1/products/MUG-01"
    body = r.json()
    assert body["sku"] == "MUG-01" and body["name"] == "Mug"
    assert body["price"] == 1250 and body["currency"] == "EUR"
    assert body["active"] is True and body["available"] == 7 and body["version"] == 1
    assert api.client.get("/v1/products/MUG-01", headers=api.alice).json() == body


def test_create_product_defaults_to_active_with_no_stock(api: Api) -> None:
    r = api.client.post(
        "/v1/products", json={"sku": "P1", "name": "n", "price": 0}, headers=api.admin
    )
    assert r.status_code == 201
    assert r.json()["active"] is True and r.json()["available"] == 0


def test_existing_sku_is_409(api: Api) -> None:
    api.product("MUG-01")
    r = api.client.post(
        "/v1/products", json={"sku": "MUG-01", "name": "Other", "price": 1}, headers=api.admin
    )
    assert_problem(r, 409, "already_exists")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sku": "-BAD", "name": "n", "price": 1}, "sku"),
        ({"sku": "lower", "name": "n", "price": 1}, "sku"),
        ({"sku": "A", "name": "n", "price": 1}, "sku"),
        ({"sku": "OK-1", "name": "", "price": 1}, "name"),
        ({"sku": "OK-1", "name": "x" * 201, "price": 1}, "name"),
        ({"sku": "OK-1", "name": "n", "price": -1}, "price"),
        ({"sku": "OK-1", "name": "n", "price": 1.5}, "price"),
        ({"sku": "OK-1", "name": "n", "price": "12"}, "price"),
        ({"sku": "OK-1", "name": "n", "price": True}, "price"),
        ({"sku": "OK-1", "name": "n", "price": 1, "on_hand": -3}, "on_hand"),
        ({"sku": "OK-1", "name": "n"}, "price"),
        ({"sku": "OK-1", "name": "n", "price": 1, "colour": "red"}, "colour"),
    ],
)
def test_invalid_product_is_422_naming_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    r = api.client.post("/v1/products", json=body, headers=api.admin)
    problem = assert_problem(r, 422, "validation_error")
    assert [e["field"] for e in problem["errors"]] == [field]
    assert api.client.get("/v1/products", headers=api.admin).json()["items"] == []


def test_only_admins_change_the_catalogue(api: Api) -> None:
    r = api.client.post(
        "/v1/products", json={"sku": "P1", "name": "n", "price": 1}, headers=api.alice
    )
    assert_problem(r, 403, "forbidden")
    api.product("P1")
    assert_problem(
        api.client.patch("/v1/products/P1", json={"price": 1}, headers=api.alice), 403, "forbidden"
    )


def test_list_is_by_sku_and_filters_on_active(api: Api) -> None:
    for sku, active in (("C-3", True), ("A-1", False), ("B-2", True)):
        api.product(sku, active=active)
    everything = api.client.get("/v1/products", headers=api.bob).json()
    assert [p["sku"] for p in everything["items"]] == ["A-1", "B-2", "C-3"]
    assert everything["next_cursor"] is None
    active = api.client.get("/v1/products?active=true", headers=api.bob).json()
    assert [p["sku"] for p in active["items"]] == ["B-2", "C-3"]
    inactive = api.client.get("/v1/products?active=false", headers=api.bob).json()
    assert [p["sku"] for p in inactive["items"]] == ["A-1"]


def test_products_paginate_stably_while_rows_are_inserted(api: Api) -> None:
    for n in range(0, 50, 2):  # P-00, P-02, ... P-48
        api.product(f"P-{n:02d}")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        url = "/v1/products?limit=7" + (f"&cursor={cursor}" if cursor else "")
        page = api.client.get(url, headers=api.alice).json()
        assert len(page["items"]) <= 7
        seen.extend(p["sku"] for p in page["items"])
        pages += 1
        # Insert both before and after the position already read.
        api.product(f"P-{pages * 2 - 1:02d}")
        api.product(f"Q-{pages:02d}")
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(set(seen)), "no duplicates and still in SKU order"
    assert {f"P-{n:02d}" for n in range(0, 50, 2)} <= set(seen), "no row skipped"
    assert pages >= 4


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=x",
        "cursor=%21%21",
        "active=maybe",
        "limit=5&limit=6",
        "actve=true",
    ],
)
def test_bad_list_parameters_are_422(api: Api, query: str) -> None:
    r = api.client.get(f"/v1/products?{query}", headers=api.alice)
    assert_problem(r, 422, "validation_error")


def test_get_product_shows_available_stock_net_of_reservations(api: Api) -> None:
    api.product("MUG-01", on_hand=10)
    api.order(api.alice, ("MUG-01", 3))
    assert api.client.get("/v1/products/MUG-01", headers=api.bob).json()["available"] == 7


def test_unknown_product_is_404_and_malformed_sku_is_422(api: Api) -> None:
    assert_problem(api.client.get("/v1/products/NOPE-1", headers=api.alice), 404, "not_found")
    assert_problem(
        api.client.get("/v1/products/not-a-sku", headers=api.alice), 422, "validation_error"
    )


def test_patch_changes_name_price_and_active(api: Api) -> None:
    api.product("MUG-01", price=1000)
    r = api.client.patch(
        "/v1/products/MUG-01", json={"name": "Big mug", "price": 1500}, headers=api.admin
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["name"], body["price"], body["active"], body["version"]) == (
        "Big mug", 1500, True, 2,
    )  # fmt: skip
    r = api.client.patch("/v1/products/MUG-01", json={"active": False}, headers=api.admin)
    assert r.json()["active"] is False and r.json()["version"] == 3
    # An empty patch changes nothing.
    same = api.client.patch("/v1/products/MUG-01", json={}, headers=api.admin).json()
    assert same["version"] == 3


def test_patch_of_unknown_product_is_404_and_bad_field_422(api: Api) -> None:
    r = api.client.patch("/v1/products/NOPE-1", json={"price": 1}, headers=api.admin)
    assert_problem(r, 404, "not_found")
    api.product("MUG-01")
    r = api.client.patch("/v1/products/MUG-01", json={"sku": "OTHER"}, headers=api.admin)
    assert_problem(r, 422, "validation_error")
    r = api.client.patch("/v1/products/MUG-01", json={"price": -5}, headers=api.admin)
    assert_problem(r, 422, "validation_error")


def test_price_change_leaves_placed_orders_alone(api: Api) -> None:
    api.product("MUG-01", price=1000)
    placed = api.order(api.alice, ("MUG-01", 2))
    api.client.patch("/v1/products/MUG-01", json={"price": 9999}, headers=api.admin)
    order = api.get_order(placed["id"])
    assert order["lines"][0]["unit_price"] == 1000 and order["total"] == 2000


def test_stock_shows_on_hand_reserved_available_to_admins_only(api: Api) -> None:
    api.product("MUG-01", on_hand=10)
    api.order(api.alice, ("MUG-01", 4))
    assert api.stock("MUG-01") == {"sku": "MUG-01", "on_hand": 10, "reserved": 4, "available": 6}
    assert_problem(api.client.get("/v1/stock/MUG-01", headers=api.alice), 403, "forbidden")
    assert_problem(api.client.get("/v1/stock/NOPE-1", headers=api.admin), 404, "not_found")


def test_put_stock_sets_on_hand_and_refuses_below_reserved(api: Api) -> None:
    api.product("MUG-01", on_hand=10)
    api.order(api.alice, ("MUG-01", 4))
    r = api.client.put("/v1/stock/MUG-01", json={"on_hand": 25}, headers=api.admin)
    assert r.status_code == 200
    assert r.json() == {"sku": "MUG-01", "on_hand": 25, "reserved": 4, "available": 21}
    r = api.client.put("/v1/stock/MUG-01", json={"on_hand": 3}, headers=api.admin)
    assert_problem(r, 409, "stock_below_reserved")
    assert api.stock("MUG-01")["on_hand"] == 25, "refused, never clamped"
    r = api.client.put("/v1/stock/MUG-01", json={"on_hand": -1}, headers=api.admin)
    assert_problem(r, 422, "validation_error")
    assert_problem(
        api.client.put("/v1/stock/NOPE-1", json={"on_hand": 1}, headers=api.admin),
        404,
        "not_found",
    )


def test_adjustments_change_on_hand_and_refuse_below_zero_or_reserved(api: Api) -> None:
    api.product("MUG-01", on_hand=10)
    url = "/v1/stock/MUG-01/adjustments"
    r = api.client.post(url, json={"delta": 5, "reason": "delivery"}, headers=api.admin)
    assert r.status_code == 200
    assert r.json()["on_hand"] == 15
    r = api.client.post(url, json={"delta": -16, "reason": "loss"}, headers=api.admin)
    assert_problem(r, 409, "stock_below_reserved")
    api.order(api.alice, ("MUG-01", 10))
    r = api.client.post(url, json={"delta": -6, "reason": "loss"}, headers=api.admin)
    assert_problem(r, 409, "stock_below_reserved")
    r = api.client.post(url, json={"delta": -5, "reason": "loss"}, headers=api.admin)
    assert r.json() == {"sku": "MUG-01", "on_hand": 10, "reserved": 10, "available": 0}
    for bad in ({"delta": 0, "reason": "x"}, {"delta": 1, "reason": " "}, {"delta": 1}):
        assert_problem(api.client.post(url, json=bad, headers=api.admin), 422, "validation_error")
    assert_problem(api.client.post(url, json={"delta": 1, "reason": "x"}, headers=api.bob), 403,
                   "forbidden")  # fmt: skip
