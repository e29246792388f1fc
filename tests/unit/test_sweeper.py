"""The housekeeping run by `orderly worker` (and by `orderly serve` in-process)."""

from __future__ import annotations

import logging

import pytest

from adapters.system import FixedClock
from entrypoints.sweeper import Sweeper
from tests.unit.conftest import MakeShop
from tests.unit.shop import ALICE, Shop


def sweeper_for(shop: Shop) -> Sweeper:
    return Sweeper(shop.c.expire_orders(), shop.c.purge_idempotency(), interval_seconds=60.0)


def test_one_round_expires_unpaid_orders_and_forgets_old_keys(
    make_shop: MakeShop, clock: FixedClock
) -> None:
    shop = make_shop(deliver=False, payment_timeout_seconds=900)  # nothing pays them
    shop.product("TEA-1", price=450, on_hand=5)
    unpaid = shop.place({"TEA-1": 2}, key="first-try")
    clock.advance(24 * 3600 + 1)
    fresh = shop.place({"TEA-1": 1}, key="second-try")

    sweeper_for(shop).run_once()

    assert shop.order(unpaid).status == "cancelled"
    assert shop.order(unpaid).cancel_reason == "payment_timeout"
    assert shop.order(fresh).status == "pending_payment"
    assert shop.stock("TEA-1").reserved == 1
    with shop.c.uow_factory()() as uow:
        assert uow.idempotency.get(ALICE.principal_id, "first-try") is None
        assert uow.idempotency.get(ALICE.principal_id, "second-try") is not None


def test_a_failing_job_is_logged_and_the_other_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    purged: list[int] = []

    def broken() -> int:
        raise RuntimeError("database went away")

    def purge() -> int:
        purged.append(1)
        return 0

    with caplog.at_level(logging.ERROR, logger="orderly.sweeper"):
        Sweeper(broken, purge, interval_seconds=60.0).run_once()
    assert purged == [1]
    assert "payment-timeout sweep failed" in caplog.text


def test_stop_ends_the_thread_without_waiting_an_interval() -> None:
    runs: list[int] = []

    def expire() -> int:
        runs.append(1)
        return 0

    sweeper = Sweeper(expire, lambda: 0, interval_seconds=3600.0)
    sweeper.start()
    sweeper.stop(timeout=5)
    assert runs == []  # stopped before the first interval elapsed
    assert sweeper._thread is None
