"""Rate limiting per API key: a GCRA bucket per key, O(1) per request.

Litestar's RateLimitMiddleware keeps every request's timestamp of the window in a
JSON list that it decodes and re-encodes on each request, so its cost grows with
the limit (profiled: a quarter of the event loop's time at a few hundred requests
a second). GCRA ("generic cell rate algorithm", a token bucket kept as a single
number, the time at which the bucket is full again) gives the same promise, at
most `per_minute` requests in any minute with bursts up to `per_minute`, for one
number per key.

Who is counted:
- a request with a bearer token is counted against the key's SHA-256, the same
  identity authentication looks up, so `bearer KEY`, `BEARER KEY` and
  `Bearer  KEY` share one bucket and the store never holds a usable key;
- a request the API answers 401 (no key, malformed, unknown or revoked) gives
  its key bucket back and is counted against the client address instead, so
  guessing keys is limited per address, and unknown keys leave nothing behind;
- once an address has used up its failures, every request from it is 429
  until its bucket refills.

Where the buckets live (docs/decisions/0008-gcra-rate-limit.md): in this process,
or, with ORDERLY_REDIS_URL, in Redis, shared by every serving process, so that
`serve --workers N` or several servers behind a balancer do not multiply the
limit. Without Redis, each of N workers allows `per_minute / N`, so together
they never allow more than the limit. If Redis does not answer (a 250 ms
timeout), requests are let through and a warning is logged: the limiter
protects the service, it must not take it down.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.domain.errors import AuthenticationFailed
from core.domain.principals import hash_api_key
from entrypoints.http.auth import token_of
from entrypoints.http.problems import ProblemException

WINDOW_SECONDS = 60.0
# Expired in-process buckets are dropped when the table grows past this many entries.
PRUNE_ABOVE = 10_000
REDIS_TIMEOUT_SECONDS = 0.25
REDIS_PREFIX = "orderly:ratelimit:"

logger = logging.getLogger("orderly.http.rate_limit")


class Buckets(Protocol):
    async def take(self, identity: str) -> float:
        """Count one request: 0.0 when allowed, else the seconds to wait (nothing counted)."""

    async def would_refuse(self, identity: str) -> float:
        """Like `take`, without counting."""

    async def give_back(self, identity: str) -> None:
        """Undo one `take` (the request turned out not to be this key's)."""


class GcraBuckets:
    """At most `per_window` events per `window` seconds per identity, in this process."""

    def __init__(
        self,
        per_window: int,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = window / per_window
        self._window = window
        self._clock = clock
        self._tat: dict[str, float] = {}  # identity -> when its bucket is full again

    def _ahead(self, identity: str, now: float) -> float:
        return max(self._tat.get(identity, now), now) + self._interval - now

    async def take(self, identity: str) -> float:
        now = self._clock()
        ahead = self._ahead(identity, now)
        if ahead > self._window:
            return ahead - self._window
        if len(self._tat) > PRUNE_ABOVE and identity not in self._tat:
            self._prune(now)
        self._tat[identity] = now + ahead
        return 0.0

    async def would_refuse(self, identity: str) -> float:
        ahead = self._ahead(identity, self._clock())
        return ahead - self._window if ahead > self._window else 0.0

    async def give_back(self, identity: str) -> None:
        tat = self._tat.get(identity)
        if tat is None:
            return
        tat -= self._interval
        if tat <= self._clock():
            del self._tat[identity]
        else:
            self._tat[identity] = tat

    def _prune(self, now: float) -> None:
        for identity in [k for k, tat in self._tat.items() if tat <= now]:
            del self._tat[identity]

    def __len__(self) -> int:
        return len(self._tat)


# The same GCRA step in Redis, atomic per key; times in microseconds of Redis's clock.
# ARGV: interval, window, mode (take | peek | give). Returns the microseconds to wait.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, window, mode = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if mode == 'give' then
  tat = tat - interval
  if tat <= now then redis.call('DEL', KEYS[1])
  else redis.call('SET', KEYS[1], tat, 'PX', math.ceil((tat - now) / 1000)) end
  return 0
end
local ahead = tat + interval - now
if ahead > window then return ahead - window end
if mode == 'take' then
  redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil(ahead / 1000))
end
return 0
"""


class RedisBuckets:
    """The same buckets in Redis, shared by every process that uses the same URL."""

    def __init__(self, url: str, per_window: int, window: float = WINDOW_SECONDS) -> None:
        import redis.asyncio  # only when configured

        self._redis: Any = redis.asyncio.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self._script = self._redis.register_script(_GCRA)
        self._interval = int(window / per_window * 1_000_000)
        self._window = int(window * 1_000_000)
        self._warned_at = 0.0

    async def _run(self, identity: str, mode: str) -> float:
        try:
            wait = await self._script(
                keys=[REDIS_PREFIX + identity], args=[self._interval, self._window, mode]
            )
        except Exception as exc:  # Redis unreachable: let the request through
            now = time.monotonic()
            if now - self._warned_at > 10:
                self._warned_at = now
                logger.warning("rate-limit store unavailable, not limiting: %s", exc)
            return 0.0
        return float(wait) / 1_000_000

    async def take(self, identity: str) -> float:
        return await self._run(identity, "take")

    async def would_refuse(self, identity: str) -> float:
        return await self._run(identity, "peek")

    async def give_back(self, identity: str) -> None:
        await self._run(identity, "give")

    async def close(self) -> None:
        await self._redis.aclose()


def _client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _is_unauthenticated(exc: Exception) -> bool:
    return isinstance(exc, AuthenticationFailed) or (
        isinstance(exc, HTTPException) and exc.status_code == 401
    )


class RateLimitMiddleware:
    """ASGI middleware for the /v1 router (health and metrics are not limited)."""

    def __init__(self, app: ASGIApp, buckets: Buckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        address = "addr:" + _client_address(scope)
        token = token_of(scope)
        identity = "key:" + hash_api_key(token) if token else None
        wait = await self.buckets.would_refuse(address)
        if not wait and identity is not None:
            wait = await self.buckets.take(identity)
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
            if _is_unauthenticated(exc):
                status = 401
            raise
        finally:
            if status == 401:
                if identity is not None:
                    await self.buckets.give_back(identity)
                await self.buckets.take(address)


def buckets_for(per_minute: int, redis_url: str, processes: int = 1) -> Buckets:
    """Shared buckets in Redis when configured; else this process's share of the limit."""
    if redis_url:
        return RedisBuckets(redis_url, per_minute)
    return GcraBuckets(max(1, per_minute // max(1, processes)))


def rate_limit_middleware(buckets: Buckets) -> Callable[[ASGIApp], ASGIApp]:
    def wrap(app: ASGIApp) -> ASGIApp:
        return RateLimitMiddleware(app, buckets)

    return wrap
