"""Prometheus metrics of the payment gateway adapters (the default registry, so /metrics
and the worker's metrics port export them).

Defined here, not beside delivery's metrics in `adapters.messaging`: payments is the
only writer, and adapter kinds do not import each other (docs/decisions/0012).
"""

from __future__ import annotations

from prometheus_client import Gauge

PAYMENTS_CIRCUIT_OPEN = Gauge(
    "orderly_payments_circuit_open",
    "1 while the payment gateway's circuit breaker is open",
    # Samples shared through files (serve's delivery process, workers): one series, the
    # highest of the live processes'; only a process that calls the gateway sets it.
    multiprocess_mode="livemax",
)
