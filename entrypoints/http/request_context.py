"""Request ids and access logs.

Every request gets an id: the caller's `X-Request-ID` when it is a sane token,
otherwise a fresh one. It is bound into the structlog context for every log
line of the request, returned as `X-Request-ID`, and set as the correlation id
(core/ports/correlation.py), so it lands in the events the request causes.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from adapters.system import random_hex
from core.domain.text import is_correlation_id
from core.ports.correlation import correlation
from entrypoints.http.scope_headers import scope_header
from entrypoints.logs import AccessLog

HEADER = "X-Request-ID"
_HEADER_NAME = HEADER.lower().encode("latin-1")
_STATE_KEY = "orderly_request_id"

ACCESS_LOGGER = "orderly.http.access"


def request_id_of(scope: Scope | Any) -> str | None:
    state = scope.get("state") if isinstance(scope, dict) else None
    value = state.get(_STATE_KEY) if isinstance(state, dict) else None
    return value if isinstance(value, str) else None


def _incoming_id(scope: Scope) -> str | None:
    text = scope_header(scope, b"x-request-id")
    if text is None:
        return None
    return text if is_correlation_id(text) else None  # what the events can store


class RequestContextMiddleware:
    """Outermost middleware: id, log context, access log line, response header.

    It is a plain ASGI middleware so that it also wraps 404 and 405 answers,
    which Litestar produces before any route-level middleware runs.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Made once, with the logging configured when the app is built.
        self._access_log = AccessLog(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or random_hex(16)  # a uuid4's randomness
        scope.setdefault("state", {})[_STATE_KEY] = request_id
        # Bound for this request and restored after it (a request runs in a task of its
        # own, whose context starts as its server's): cheaper than clearing the whole
        # context before and after, which copies and walks it each time.
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        id_header = (_HEADER_NAME, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # Appended, not set through MutableScopeHeaders (which rescans and rebuilds
                # the list: a tenth of this middleware's cost); nothing inside sets it.
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            with correlation(request_id):
                await self.app(scope, receive, send_with_id)
        finally:
            # Never the Authorization header or the query string: keys stay out of logs.
            self._access_log.info(
                "request",
                {
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "route": scope.get("path_template"),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            structlog.contextvars.reset_contextvars(**bound)
