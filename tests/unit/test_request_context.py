"""The request context middleware (entrypoints/http/request_context.py) called directly:
the id header it adds, and the log context it leaves behind."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from core.ports.correlation import current_correlation_id
from entrypoints.http.request_context import RequestContextMiddleware


def _run(app: Any, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": headers}
    asyncio.run(RequestContextMiddleware(app)(scope, receive, send))  # type: ignore[arg-type]
    return sent


def test_the_id_is_added_once_to_the_answers_headers_and_bound_only_during_the_request() -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["log"] = structlog.contextvars.get_contextvars()
        seen["correlation"] = current_correlation_id()
        start = {"type": "http.response.start", "status": 200, "headers": [(b"etag", b'"1"')]}
        await send(start)
        await send({"type": "http.response.body", "body": b"{}"})

    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(outer="kept")
    try:
        start, _ = _run(app, [(b"x-request-id", b"req-abc")])
        assert start["headers"] == [(b"etag", b'"1"'), (b"x-request-id", b"req-abc")]
        assert seen == {"log": {"outer": "kept", "request_id": "req-abc"}, "correlation": "req-abc"}
        # Afterwards the caller's context is what it was: its own key, no request id.
        assert structlog.contextvars.get_contextvars() == {"outer": "kept"}
        assert current_correlation_id() is None
    finally:
        structlog.contextvars.clear_contextvars()


def test_a_fresh_id_is_32_hex_digits_when_the_caller_sends_none() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body", "body": b""})

    ids = set()
    for _ in range(3):
        start, _ = _run(app, [])
        ((name, value),) = start["headers"]
        assert name == b"x-request-id" and len(value) == 32 and int(value, 16) >= 0
        ids.add(value)
    assert len(ids) == 3
