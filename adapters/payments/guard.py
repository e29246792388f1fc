"""Every gateway call bounded in time, and a circuit breaker in front of the gateway.

`GuardedGateway` wraps any PaymentGateway:

- timeout: the call runs on a worker thread and the caller waits at most
  `timeout` seconds; no answer in time is a `TransientPaymentError` (retried
  with the same idempotency key, so a late capture is not repeated);
- circuit breaker: after `failures` consecutive failed calls (transient errors,
  timeouts) the circuit opens for `cooldown` seconds, during which calls fail
  at once with `DependencyUnavailable("payments", ...)`. Delivery treats that
  like a database outage: the work waits (the outbox batch stays, RabbitMQ
  messages are requeued) and no delivery attempt is used up. After the
  cooldown one probe call decides: success closes the circuit, failure opens
  it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from adapters.payments import metrics
from core.domain.money import Money
from core.ports.errors import DependencyUnavailable
from core.ports.payments import ChargeResult, PaymentGateway, RefundResult, TransientPaymentError

T = TypeVar("T")


class CircuitBreaker:
    def __init__(
        self, failures: int, cooldown: float, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._cooldown = cooldown
        self._now = now
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        with self._lock:
            if self._open_until is None:
                return "closed"
            return "open" if self._now() < self._open_until else "half_open"

    def before_call(self) -> None:
        """Raise DependencyUnavailable while open; let one probe through after the cooldown."""
        with self._lock:
            if self._open_until is None:
                return
            remaining = self._open_until - self._now()
            if remaining > 0 or self._probing:
                wait = max(remaining, 0.0)
                raise DependencyUnavailable(
                    "payments",
                    f"circuit open after {self._threshold} failed calls; next try in {wait:.1f}s",
                )
            self._probing = True

    def succeeded(self) -> None:
        with self._lock:
            self._failures = 0
            self._open_until = None
            self._probing = False
        metrics.PAYMENTS_CIRCUIT_OPEN.set(0)

    def inconclusive(self) -> None:
        """A call ended in an error that says nothing about availability."""
        with self._lock:
            self._probing = False

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            if self._probing or self._failures >= self._threshold:
                self._open_until = self._now() + self._cooldown
                self._probing = False
                opened = True
            else:
                opened = False
        if opened:
            metrics.PAYMENTS_CIRCUIT_OPEN.set(1)


class GuardedGateway:
    def __init__(
        self,
        inner: PaymentGateway,
        timeout: float = 10.0,
        breaker_failures: int = 5,
        breaker_cooldown: float = 10.0,
        max_concurrent: int = 128,
    ) -> None:
        self.inner = inner
        self._timeout = timeout
        self.breaker = CircuitBreaker(breaker_failures, breaker_cooldown)
        self._pool = ThreadPoolExecutor(max_concurrent, thread_name_prefix="orderly-gateway")

    def charge(self, idempotency_key: str, amount: Money) -> ChargeResult:
        return self._guarded(lambda: self.inner.charge(idempotency_key, amount))

    def refund(self, idempotency_key: str) -> RefundResult:
        return self._guarded(lambda: self.inner.refund(idempotency_key))

    def _guarded(self, call: Callable[[], T]) -> T:
        self.breaker.before_call()
        future = self._pool.submit(call)
        try:
            result = future.result(timeout=self._timeout)
        except FutureTimeout:
            self.breaker.failed()
            raise TransientPaymentError(
                f"the payment gateway did not answer within {self._timeout:g}s"
            ) from None
        except TransientPaymentError:
            self.breaker.failed()
            raise
        except BaseException:
            # Not the gateway's availability (a bug, a refused request): no verdict on it.
            self.breaker.inconclusive()
            raise
        self.breaker.succeeded()
        return result
