"""Rate limiting per API key: a GCRA bucket per key, O(1) per request.

Litestar's RateLimitMiddleware keeps every request's timestamp of the window in a
JSON list that it decodes and re-encodes on each request, so its cost grows with
the limit (profiled: a quarter of the event loop's time at a few hundred requests
a second). GCRA ("generic cell rate algorithm", a token bucket kept as a single
number) gives the same promise, at most `per_minute` requests in any minute
with bursts up to `per_minute`, for one float per key.

Who is counted:
- a request with a bearer token is counted against the key's SHA-256, the same
  identity authentication looks up, so `bearer KEY`, `BEARER KEY` and
  `Bearer  KEY` share one bucket and the store never holds a usable key;
- a request the API answers 401 (no key, malformed, unknown or revoked) gives
  its key bucket back and is counted against the client address instead, so
  guessing keys is limited per address, and unknown keys leave nothing behind;
- when the address has used up its failures, every request from it is 429
  until the bucket refills.

The buckets live in this process (SPEC section 4: the in-process rate-limit
store); with `serve --workers N` each worker counts on its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.domain.errors import AuthenticationFailed
from core.domain.principals import hash_api_key
from entrypoints.http.auth import token_of
from entrypoints.http.problems import ProblemException

WINDOW_SECONDS = 60.0
# Expired buckets are dropped when the table grows past this many entries.
PRUNE_ABOVE = 10_000


class GcraBuckets:
    """At most `per_window` events per `window` seconds per identity (GCRA).

    Each identity keeps its theoretical arrival time (TAT): the moment its bucket
    would be full again. A request is allowed when, after adding one interval, the
    TAT is no more than one window ahead of now.
    """

    def __init__(
        self,
        per_window: int,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_window = per_window
        self._interval = window / per_window
        self._window = window
        self._clock = clock
        self._tat: dict[str, float] = {}

    def take(self, identity: str) -> float:
        """Count one request: 0.0 when allowed, else the seconds to wait (nothing counted)."""
        now = self._clock()
        tat = max(self._tat.get(identity, now), now) + self._interval
        ahead = tat - now
        if ahead > self._window:
            return ahead - self._window
        if len(self._tat) > PRUNE_ABOVE and identity not in self._tat:
            self._prune(now)
        self._tat[identity] = tat
        return 0.0

    def would_refuse(self, identity: str) -> float:
        """Like `take` without counting: the seconds to wait, or 0.0."""
        now = self._clock()
        ahead = max(self._tat.get(identity, now), now) + self._interval - now
        return ahead - self._window if ahead > self._window else 0.0

    def give_back(self, identity: str) -> None:
        """Undo one `take` (the request turned out to belong to someone else)."""
        tat = self._tat.get(identity)
        if tat is None:
            return
        tat -= self._interval
        if tat <= self._clock():
            del self._tat[identity]
        else:
            self._tat[identity] = tat

    def remaining(self, identity: str) -> int:
        now = self._clock()
        used = max(self._tat.get(identity, now) - now, 0.0)
        return max(0, self.per_window - math.ceil(used / self._interval))

    def _prune(self, now: float) -> None:
        for identity in [k for k, tat in self._tat.items() if tat <= now]:
            del self._tat[identity]

    def __len__(self) -> int:
        return len(self._tat)


def _client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimitMiddleware:
    """ASGI middleware for the /v1 router (health and metrics are not limited)."""

    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        self.app = app
        self.keys = GcraBuckets(per_minute)
        self.failures = GcraBuckets(per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        address = "addr:" + _client_address(scope)
        wait = self.failures.would_refuse(address)
        token = token_of(scope)
        identity = "key:" + hash_api_key(token) if token else None
        if not wait and identity is not None:
            wait = self.keys.take(identity)
        if wait:
            raise ProblemException(
                429,
                "rate_limited",
                "too many requests for this API key; retry after the given delay",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        status = 0

        async def watch_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch_status)
        except Exception as exc:
            # Authentication refusals surface here as exceptions, answered further out.
            if isinstance(exc, AuthenticationFailed) or (
                isinstance(exc, HTTPException) and exc.status_code == 401
            ):
                status = 401
            raise
        finally:
            if status == 401:
                if identity is not None:
                    self.keys.give_back(identity)
                self.failures.take(address)


def rate_limit_middleware(per_minute: int) -> Callable[[ASGIApp], ASGIApp]:
    def wrap(app: ASGIApp) -> ASGIApp:
        return RateLimitMiddleware(app, per_minute)

    return wrap
