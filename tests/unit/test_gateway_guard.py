"""Every gateway call has a timeout, and a circuit breaker stops calling a failing
gateway for a cooldown (the work waits: DependencyUnavailable, no attempt used)."""

from __future__ import annotations

import threading

import pytest
from prometheus_client import REGISTRY

from adapters.payments.guard import CircuitBreaker, GuardedGateway
from adapters.payments.ledger import MemoryLedger
from adapters.payments.simulated import SimulatedGateway
from core.domain.money import Money
from core.ports.errors import DependencyUnavailable
from core.ports.payments import ChargeResult, ChargeStatus, RefundResult, TransientPaymentError
from entrypoints.settings import ConfigError, Settings
from tests.payments_ledger import LedgerReader

EUR = Money(100, "EUR")


class HangingGateway:
    """Never answers until released (a gateway that lost the reply)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def charge(self, idempotency_key: str, amount: Money) -> ChargeResult:
        self.calls += 1
        self.release.wait()
        return ChargeResult(ChargeStatus.CAPTURED, "ch_late")

    def refund(self, idempotency_key: str) -> RefundResult:
        self.calls += 1
        self.release.wait()
        return RefundResult(True, "re_late", 100)


class FailingGateway:
    def __init__(self) -> None:
        self.failing = True
        self.calls = 0
        store = MemoryLedger()
        self.inner = SimulatedGateway(store)
        self.ledger = LedgerReader(store)

    def charge(self, idempotency_key: str, amount: Money) -> ChargeResult:
        self.calls += 1
        if self.failing:
            raise TransientPaymentError("gateway down")
        return self.inner.charge(idempotency_key, amount)

    def refund(self, idempotency_key: str) -> RefundResult:
        return self.inner.refund(idempotency_key)


def test_a_call_with_no_answer_in_time_is_a_transient_error() -> None:
    hanging = HangingGateway()
    guarded = GuardedGateway(hanging, timeout=0.05, breaker_failures=100)
    try:
        with pytest.raises(TransientPaymentError, match=r"did not answer within 0\.05s"):
            guarded.charge("order-1", EUR)
        with pytest.raises(TransientPaymentError):
            guarded.refund("order-1")
    finally:
        hanging.release.set()
    assert hanging.calls == 2


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


CIRCUIT_GAUGE = "orderly_payments_circuit_open"


def test_the_breaker_opens_after_repeated_failures_and_one_probe_closes_it() -> None:
    failing = FailingGateway()
    guarded = GuardedGateway(failing, timeout=5, breaker_failures=3, breaker_cooldown=30)
    clock = Clock()
    guarded.breaker = CircuitBreaker(3, 30, now=clock)
    for _ in range(3):
        with pytest.raises(TransientPaymentError):
            guarded.charge("order-1", EUR)
    assert guarded.breaker.state == "open"
    assert REGISTRY.get_sample_value(CIRCUIT_GAUGE) == 1, "/metrics shows the open circuit"
    with pytest.raises(DependencyUnavailable, match="circuit open after 3 failed calls"):
        guarded.charge("order-1", EUR)
    assert failing.calls == 3  # not called while open

    clock.now = 31  # cooldown over: one probe; it fails, the circuit opens again
    assert guarded.breaker.state == "half_open"
    with pytest.raises(TransientPaymentError):
        guarded.charge("order-1", EUR)
    assert guarded.breaker.state == "open" and failing.calls == 4

    clock.now = 62
    failing.failing = False
    assert guarded.charge("order-1", EUR).status is ChargeStatus.CAPTURED
    assert guarded.breaker.state == "closed"
    assert REGISTRY.get_sample_value(CIRCUIT_GAUGE) == 0
    assert failing.ledger.charges() == {"order-1": 1}


def test_the_payment_variables_are_read_and_checked() -> None:
    settings = Settings.from_env(
        {
            "ORDERLY_PAYMENTS_LATENCY_MS": "100",
            "ORDERLY_PAYMENTS_TIMEOUT_SECONDS": "2.5",
            "ORDERLY_PAYMENTS_BREAKER_FAILURES": "7",
            "ORDERLY_PAYMENTS_BREAKER_COOLDOWN_SECONDS": "0.5",
        }
    )
    assert (
        settings.payments_latency_ms,
        settings.payments_timeout_seconds,
        settings.payments_breaker_failures,
        settings.payments_breaker_cooldown_seconds,
    ) == (100, 2.5, 7, 0.5)
    assert Settings().payments_timeout_seconds == 10
    for name, value, message in [
        ("PAYMENTS_TIMEOUT_SECONDS", "0", "ORDERLY_PAYMENTS_TIMEOUT_SECONDS must be"),
        ("PAYMENTS_TIMEOUT_SECONDS", "nan", "ORDERLY_PAYMENTS_TIMEOUT_SECONDS must be"),
        ("PAYMENTS_TIMEOUT_SECONDS", "soon", "ORDERLY_PAYMENTS_TIMEOUT_SECONDS must be a number"),
        ("PAYMENTS_LATENCY_MS", "-1", "ORDERLY_PAYMENTS_LATENCY_MS must be"),
        ("PAYMENTS_BREAKER_FAILURES", "0", "ORDERLY_PAYMENTS_BREAKER_FAILURES must be"),
    ]:
        with pytest.raises(ConfigError, match=message):
            Settings.from_env({f"ORDERLY_{name}": value})
