"""Readiness check for the broker: the HTTP /health/ready endpoint calls it."""

from __future__ import annotations

import threading
import time

import pika

from adapters.messaging.rabbitmq.connection import BROKER_ERRORS, parameters, unavailable


class BrokerHealth:
    """Callable that raises DependencyUnavailable('rabbitmq', ...) when the broker cannot
    be reached. A success is remembered for `cache_seconds` so that frequent probes do
    not open a connection each."""

    def __init__(self, url: str, timeout: float = 2.0, cache_seconds: float = 1.0) -> None:
        self._url = url
        self._timeout = timeout
        self._cache = cache_seconds
        self._lock = threading.Lock()
        self._ok_until = 0.0

    def __call__(self) -> None:
        with self._lock:
            if time.monotonic() < self._ok_until:
                return
        try:
            connection = pika.BlockingConnection(parameters(self._url, timeout=self._timeout))
            connection.close()
        except BROKER_ERRORS as exc:
            with self._lock:
                self._ok_until = 0.0
            raise unavailable(exc) from exc
        with self._lock:
            self._ok_until = time.monotonic() + self._cache
