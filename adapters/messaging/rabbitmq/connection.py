"""Connection parameters shared by every pika connection Orderly opens.

pika's connections are not thread-safe: each thread opens its own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

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


def mask_url(url: str) -> str:
    """The broker URL for logs and messages: the password replaced by ***."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{parts.username or ''}:***@{host}"
        if parts.port is not None:
            netloc += f":{parts.port}"
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:  # a URL too broken to parse shows nothing of itself
        return "<unparsable rabbitmq url>"


def reason(exc: BaseException) -> str:
    """Why a connection failed, in a few words (pika nests the cause in wrappers
    whose own text is a chain of class names)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        auth = pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError
        if isinstance(current, auth):
            return "login refused (check the user name and password)"
        if isinstance(current, pika.exceptions.ProbableAccessDeniedError):
            return "access to the virtual host refused (check the vhost and permissions)"
        if isinstance(current, pika.exceptions.ConnectionClosedByBroker):
            return f"closed by the broker ({current.reply_code} {current.reply_text})"
        if isinstance(current, pika.exceptions.StreamLostError):
            return "connection lost"
        if isinstance(current, TimeoutError) or "Timeout" in current.__class__.__name__:
            return "timed out"
        if isinstance(current, OSError):
            return (current.strerror or str(current) or "network error").lower()
        nested = [arg for arg in current.args if isinstance(arg, BaseException)]
        for name in ("exception", "exceptions"):  # pika's connection-workflow wrappers
            inner = getattr(current, name, None)
            if isinstance(inner, BaseException):
                nested.append(inner)
            elif isinstance(inner, list):
                nested.extend(e for e in inner if isinstance(e, BaseException))
        current = nested[-1] if nested else current.__cause__
    text = str(exc).strip() or exc.__class__.__name__
    return " ".join(text.split())[:200]


def unavailable(exc: BaseException, url: str | None = None) -> DependencyUnavailable:
    if isinstance(exc, DependencyUnavailable):
        return exc
    detail = reason(exc)
    if url is not None:
        detail = f"{detail} at {mask_url(url)}"
    return DependencyUnavailable("rabbitmq", detail)
