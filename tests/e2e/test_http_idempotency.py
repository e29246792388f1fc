"""Idempotency-Key on POST /v1/orders: replays, reuse with another body, concurrent retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.http_support import STORAGES, Api, assert_problem, running_api

LINES = {"lines": [{"sku": "MUG-01", "quantity": 2}]}


@pytest.fixture(params=STORAGES)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    with running_api(request.param, tmp_path) as running:
        running.product("MUG-01", price=1250, on_hand=100)
        yield running


def _post(api: Api, key: str, body: dict[str, Any], who: dict[str, str] | None = None) -> Any:
    return api.client.post(
        "/v1/orders", json=body, headers={**(who or api.alice), "Idempotency-Key": key}
    )


def test_a_retry_replays_the_same_status_and_body(api: Api) -> None:
    first = _post(api, "retry-1", LINES)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    api.wait_status(first.json()["id"], "paid")  # the order moved on since
    again = _post(api, "retry-1", LINES)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json(), "the stored response, not the current state"
    assert again.headers["location"] == first.headers["location"]
    assert api.stock("MUG-01")["reserved"] == 2, "reserved once"
    assert len(api.client.get("/v1/orders", headers=api.alice).json()["items"]) == 1


def test_the_same_key_with_another_body_is_422(api: Api) -> None:
    assert _post(api, "k-1", LINES).status_code == 201
    other = {"lines": [{"sku": "MUG-01", "quantity": 3}]}
    problem = assert_problem(_post(api, "k-1", other), 422, "idempotency_key_reused")
    # The header the client sent, not the core's field name (`idempotency_key`).
    assert problem["errors"] == [
        {"field": "Idempotency-Key", "message": "already used with another body"}
    ]


def test_keys_belong_to_one_principal(api: Api) -> None:
    mine = _post(api, "shared-key", LINES)
    theirs = _post(api, "shared-key", LINES, who=api.bob)
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert theirs.json()["id"] != mine.json()["id"]


def test_a_failed_placement_stores_nothing(api: Api) -> None:
    too_many = {"lines": [{"sku": "MUG-01", "quantity": 500}]}
    assert_problem(_post(api, "later", too_many), 409, "insufficient_stock")
    api.client.put("/v1/stock/MUG-01", json={"on_hand": 1000}, headers=api.admin)
    r = _post(api, "later", too_many)
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "tab\tkey"])
def test_a_malformed_key_is_422(api: Api, key: str) -> None:
    r = _post(api, key, LINES)
    problem = assert_problem(r, 422, "validation_error")
    assert problem["errors"][0]["field"] == "Idempotency-Key"


def test_twenty_concurrent_retries_give_one_order(api: Api) -> None:
    barrier = threading.Barrier(20)

    def attempt(_: int) -> Any:
        barrier.wait()
        return _post(api, "burst-1", LINES)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(attempt, range(20)))
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len({r.content for r in responses}) == 1, "same body for every retry"
    fresh = [r for r in responses if "idempotent-replayed" not in r.headers]
    assert len(fresh) == 1, "exactly one placed the order, the others replayed it"
    orders = api.client.get("/v1/orders", headers=api.alice).json()["items"]
    assert len(orders) == 1
    assert api.stock("MUG-01")["reserved"] == 2
