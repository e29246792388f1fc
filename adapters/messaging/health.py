"""Readiness check for the broker: the HTTP /health/ready endpoint calls it.

A probe every few seconds must neither churn AMQP connections nor flood the
log: the check keeps one connection open and only pumps it (which also answers
the broker's heartbeats), reconnecting when the broker dropped it, and
remembers its answer, up or down, for `cache_seconds`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pika

from adapters.messaging.rabbitmq.connection import BROKER_ERRORS, parameters, unavailable
from core.ports.errors import DependencyUnavailable


class BrokerHealth:
    """Callable that raises DependencyUnavailable('rabbitmq', ...) when the broker cannot
    be reached."""

    def __init__(self, url: str, timeout: float = 2.0, cache_seconds: float = 1.5) -> None:
        self._url = url
        self._timeout = timeout
        self._cache = cache_seconds
        self._lock = threading.Lock()
        self._until = 0.0
        self._answer: DependencyUnavailable | None = None
        self._connection: Any = None

    def __call__(self) -> None:
        with self._lock:  # concurrent probes wait for one check instead of each connecting
            if time.monotonic() >= self._until:
                self._answer = self._check()
                self._until = time.monotonic() + self._cache
            answer = self._answer
        if answer is not None:
            raise answer

    def _check(self) -> DependencyUnavailable | None:
        connection = self._connection
        if connection is not None and connection.is_open:
            try:
                connection.process_data_events(time_limit=0)
                return None
            except BROKER_ERRORS:
                self.close()  # dropped since the last probe: one fresh attempt below
        try:
            self._connection = pika.BlockingConnection(parameters(self._url, timeout=self._timeout))
        except BROKER_ERRORS as exc:
            self._connection = None
            return unavailable(exc, self._url)
        return None

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(*BROKER_ERRORS):
                connection.close()
