"""Connection parameters shared by every pika connection Orderly opens.

pika's connections are not thread-safe: each thread opens its own.
"""

from __future__ import annotations

from typing import Any

import pika
import pika.exceptions

from core.ports.errors import DependencyUnavailable

# Errors that mean "the broker cannot be reached or dropped us", as opposed to a bug.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    pika.exceptions.AMQPError,
    OSError,
)


def parameters(url: str, *, timeout: float = 5.0, heartbeat: int = 30) -> Any:
    """URLParameters with bounded connect and socket timeouts, so an unreachable broker
    fails fast instead of hanging a relay or a readiness probe."""
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = timeout
    params.stack_timeout = timeout * 2
    params.blocked_connection_timeout = timeout * 6
    params.heartbeat = heartbeat
    params.client_properties = {"connection_name": "orderly"}
    return params


def unavailable(exc: BaseException) -> DependencyUnavailable:
    detail = str(exc) or exc.__class__.__name__
    return DependencyUnavailable("rabbitmq", detail)
