"""The webhook network ports in memory, for tests and demos: a receiver that records
requests and answers from a script, and a resolver that reads a table."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Sequence

from core.ports.webhooks import WebhookRequest, WebhookResponse


class MemoryReceiver:
    """An in-process webhook receiver for tests and demos (the WebhookSender port):
    records every request and answers with the next scripted status (200 once the
    script is spent); None in the script means "no answer" (a timeout)."""

    def __init__(self, script: Sequence[int | None] = ()) -> None:
        self._lock = threading.Lock()
        self._script = list(script)
        self.requests: list[WebhookRequest] = []

    def answer_next(self, *statuses: int | None) -> None:
        with self._lock:
            self._script.extend(statuses)

    def send(self, request: WebhookRequest) -> WebhookResponse:
        with self._lock:
            self.requests.append(request)
            status = self._script.pop(0) if self._script else 200
        if status is None:
            return WebhookResponse(None, "timed out")
        return WebhookResponse(status, None if 200 <= status < 300 else f"HTTP {status}")


class MemoryResolver:
    """Host names from a table (IP literals resolve to themselves): no DNS in tests."""

    def __init__(self, hosts: dict[str, list[str]] | None = None) -> None:
        self.hosts = dict(hosts or {})

    def resolve(self, host: str, port: int) -> list[str]:
        if host in self.hosts:
            return list(self.hosts[host])
        try:
            return [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            return []
