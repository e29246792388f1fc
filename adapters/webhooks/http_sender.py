"""The webhook HTTP client (httpx): one POST, a timeout over the whole exchange, no
redirects followed, and at most 64 KiB of the answer read."""

from __future__ import annotations

import socket
import time

import httpx

from adapters.tracing import otel
from core.domain.webhooks import MAX_RESPONSE_BYTES
from core.ports.webhooks import WebhookRequest, WebhookResponse


class HttpxWebhookSender:
    """Thread-safe: one pooled client shared by the sender's threads."""

    def __init__(
        self,
        timeout_seconds: float = 5.0,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_connections: int = 32,
    ) -> None:
        self._timeout = timeout_seconds
        self._max_bytes = max_response_bytes
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_seconds),
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            trust_env=False,  # no proxy from the environment: the target is what we checked
        )

    def send(self, request: WebhookRequest) -> WebhookResponse:
        # Tracing on: a client span in the event's trace, and `traceparent` for the receiver.
        event_id = request.headers.get("Orderly-Event-Id", "")
        with otel.client_span(event_id, "webhook POST", request.url) as trace_headers:
            return self._send(request, {**request.headers, **trace_headers})

    def _send(self, request: WebhookRequest, headers: dict[str, str]) -> WebhookResponse:
        deadline = time.monotonic() + self._timeout
        try:
            with self._client.stream(
                "POST", request.url, content=request.body, headers=headers
            ) as response:
                read = 0
                for chunk in response.iter_raw():
                    read += len(chunk)
                    if read >= self._max_bytes:
                        break  # the rest is never read; the connection is dropped
                    if time.monotonic() > deadline:
                        return WebhookResponse(None, f"timed out after {self._timeout:g}s")
                if time.monotonic() > deadline:
                    return WebhookResponse(None, f"timed out after {self._timeout:g}s")
                status = response.status_code
                if 300 <= status < 400:
                    return WebhookResponse(status, f"HTTP {status}: redirects are not followed")
                return WebhookResponse(status, None if 200 <= status < 300 else f"HTTP {status}")
        except httpx.TimeoutException:
            return WebhookResponse(None, f"timed out after {self._timeout:g}s")
        except httpx.HTTPError as exc:
            return WebhookResponse(None, f"{type(exc).__name__}: {exc}"[:500])
        except OSError as exc:
            return WebhookResponse(None, f"{type(exc).__name__}: {exc}"[:500])

    def close(self) -> None:
        self._client.close()


class SocketResolver:
    """Host names through the system resolver; IP literals as they are."""

    def resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return []
        return sorted({str(info[4][0]) for info in infos})
