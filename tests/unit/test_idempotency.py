"""Idempotency keys on PlaceOrder (docs/api.md: Idempotency)."""

from __future__ import annotations

import threading

import pytest

from core.domain.errors import IdempotencyKeyReused, InsufficientStock, ValidationError
from core.use_cases.ordering import PlaceOrderResult, PurgeIdempotencyRecords
from tests.unit.shop import ALICE, BOB, Shop


@pytest.fixture
def stocked(shop: Shop) -> Shop:
    shop.product("AB-1", price=100, on_hand=50)
    shop.product("CD-2", price=300, on_hand=50)
    return shop


def test_a_replay_returns_the_same_order(stocked: Shop) -> None:
    first = stocked.place_result({"AB-1": 2, "CD-2": 1}, key="key-1")
    again = stocked.place_result({"AB-1": 2, "CD-2": 1}, key="key-1")
    assert (first.replayed, again.replayed) == (False, True)
    assert again.order == first.order  # same body, as first answered
    assert len(stocked.store.orders) == 1
    assert stocked.stock("AB-1").reserved == 2
    assert stocked.types(first.order.id) == ["OrderPlaced", "OrderPaid"]
    assert stocked.ledger.charges() == {first.order.id: 1}


def test_the_same_key_with_another_body_is_refused(stocked: Shop) -> None:
    stocked.place({"AB-1": 2}, key="key-1")
    for other in ({"AB-1": 3}, {"CD-2": 2}, [("AB-1", 2), ("CD-2", 1)]):
        with pytest.raises(IdempotencyKeyReused) as info:
            stocked.place(other, key="key-1")
        assert info.value.code == "idempotency_key_reused"
        assert isinstance(info.value, ValidationError)  # 422
        # The core names its own field; the HTTP edge names the header (tests/e2e).
        assert [p.field for p in info.value.errors] == ["idempotency_key"]
    assert len(stocked.store.orders) == 1
    assert stocked.stock("AB-1").reserved == 2


def test_keys_belong_to_one_principal(stocked: Shop) -> None:
    alices = stocked.place({"AB-1": 1}, ALICE, key="shared")
    bobs = stocked.place({"AB-1": 1}, BOB, key="shared")
    assert alices != bobs
    assert stocked.order(bobs).customer_id == BOB.principal_id


def test_without_a_key_every_request_places_an_order(stocked: Shop) -> None:
    assert stocked.place({"AB-1": 1}) != stocked.place({"AB-1": 1})


@pytest.mark.parametrize("key", ["", "has space", "tab\t", "é", "x" * 256, "line\n"])
def test_a_key_is_1_to_255_visible_ascii_characters(stocked: Shop, key: str) -> None:
    with pytest.raises(ValidationError):
        stocked.place({"AB-1": 1}, key=key)
    assert stocked.store.orders == {}


@pytest.mark.parametrize("key", ["a", "~" * 255, "Order-2026/01:01#1"])
def test_valid_keys(stocked: Shop, key: str) -> None:
    assert stocked.place_result({"AB-1": 1}, key=key).replayed is False
    assert stocked.place_result({"AB-1": 1}, key=key).replayed is True


def test_a_refused_request_does_not_use_up_its_key(stocked: Shop) -> None:
    with pytest.raises(InsufficientStock):
        stocked.place({"AB-1": 51}, key="retry-me")
    stocked.adjust("AB-1", 10, "delivery")
    assert stocked.place_result({"AB-1": 51}, key="retry-me").replayed is False


def test_concurrent_retries_give_one_order(stocked: Shop) -> None:
    threads_n = 16
    start = threading.Barrier(threads_n)
    results: list[PlaceOrderResult] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def retry() -> None:
        start.wait()
        try:
            result = stocked.place_result({"AB-1": 3}, key="burst")
        except BaseException as exc:  # collected so that the main thread can report it
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(result)

    threads = [threading.Thread(target=retry) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.order.id for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False] + [True] * (threads_n - 1)
    assert len(stocked.store.orders) == 1
    assert stocked.stock("AB-1").reserved == 3
    stocked.store.check_invariants()


def test_keys_are_kept_24_hours_then_purged(stocked: Shop) -> None:
    purge = PurgeIdempotencyRecords(stocked.c.uow_factory(), stocked.clock, retention_seconds=60)
    old = stocked.place({"AB-1": 1}, key="old")
    stocked.clock.advance(23 * 3600)
    stocked.place({"AB-1": 1}, key="young")
    assert purge() == 0  # a shorter retention is raised to the 24-hour minimum
    stocked.clock.advance(3601)
    assert purge() == 1
    assert stocked.place_result({"AB-1": 1}, key="young").replayed is True
    again = stocked.place_result({"AB-1": 1}, key="old")
    assert again.replayed is False and again.order.id != old


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "tab\tkey"])
def test_a_malformed_key_is_refused_in_the_cores_words(stocked: Shop, key: str) -> None:
    with pytest.raises(ValidationError) as info:
        stocked.place({"AB-1": 1}, key=key)
    assert [p.field for p in info.value.errors] == ["idempotency_key"]
    assert len(stocked.store.orders) == 0
