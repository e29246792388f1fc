"""A batch of events overlaps its gateway calls only when the calls wait on something:
the simulated gateway with no latency is called one call after another, in the
delivering thread; with a latency, or with ORDERLY_PAYMENTS_CONCURRENCY set, the calls
run at once in the handler's pool
(docs/decisions/0023-gateway-calls-overlap-only-when-they-wait.md)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from dependency_injector import providers

from core.domain.money import Money
from core.ports.payments import ChargeResult, PaymentGateway, RefundResult
from entrypoints.settings import ConfigError, Settings
from tests.unit.conftest import MakeShop


class CallerRecordingGateway:
    """Stands in front of the container's gateway (the guarded simulated one) and
    notes the thread each call comes from: the handler's own, or its pool's."""

    def __init__(self, inner: PaymentGateway) -> None:
        self.inner = inner
        self.callers: list[str] = []
        self._lock = threading.Lock()

    def charge(self, idempotency_key: str, amount: Money) -> ChargeResult:
        with self._lock:
            self.callers.append(threading.current_thread().name)
        return self.inner.charge(idempotency_key, amount)

    def refund(self, idempotency_key: str) -> RefundResult:
        return self.inner.refund(idempotency_key)


@pytest.mark.parametrize(
    ("settings", "concurrency"),
    [
        ({}, 1),  # the default: the simulated gateway, answering at once
        ({"payments_latency_ms": 50}, 32),
        ({"payments_concurrency": 4}, 4),
        ({"payments_latency_ms": 50, "payments_concurrency": 2}, 2),
    ],
)
def test_the_gateway_concurrency_is_1_unless_calls_wait_or_it_is_set(
    settings: dict[str, Any], concurrency: int
) -> None:
    assert Settings(**settings).gateway_concurrency == concurrency


def test_the_concurrency_variable_is_read_and_checked() -> None:
    assert Settings.from_env({"ORDERLY_PAYMENTS_CONCURRENCY": "8"}).gateway_concurrency == 8
    for bad in ["-1", "257", "many"]:
        with pytest.raises(ConfigError, match="ORDERLY_PAYMENTS_CONCURRENCY must be"):
            Settings.from_env({"ORDERLY_PAYMENTS_CONCURRENCY": bad})


@pytest.mark.parametrize(
    ("settings", "overlap"),
    [({}, False), ({"payments_latency_ms": 50}, True), ({"payments_concurrency": 4}, True)],
)
def test_a_batch_calls_the_gateway_from_the_threads_its_settings_choose(
    make_shop: MakeShop, settings: dict[str, Any], overlap: bool
) -> None:
    shop = make_shop(deliver=False, **settings)
    gateway = CallerRecordingGateway(shop.c.payment_gateway())
    shop.c.payment_gateway.override(providers.Object(gateway))  # before the handlers exist
    shop.product("AB-1", price=400, on_hand=50)
    orders = [shop.place({"AB-1": 1}) for _ in range(6)]
    shop.start_delivery()
    shop.relay.drain()  # the six OrderPlaced events reach the charge handler as one batch

    assert all(shop.order(o).status == "paid" for o in orders)
    assert len(gateway.callers) == 6
    delivering = threading.current_thread().name
    if overlap:
        assert delivering not in gateway.callers  # the handler's pool threads
        assert all(name.startswith("orderly-") for name in gateway.callers)
    else:
        assert set(gateway.callers) == {delivering}
