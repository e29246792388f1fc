"""Rate limiting per API key (Litestar's RateLimitMiddleware, keyed on the key's hash).

Requests without a key are counted by client address. The window is a minute
and the count lives in the app's memory store, so each serving process counts
on its own (documented in the OpenAPI description).
"""

from __future__ import annotations

import hashlib
from typing import Any

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address


def _identity(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization")
    if header:
        # A digest, so the store never holds a usable key.
        return "key:" + hashlib.sha256(header.strip().encode("utf-8", "replace")).hexdigest()
    return "addr:" + get_remote_address(request)


def rate_limit_config(per_minute: int) -> RateLimitConfig:
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        identifier_for_request=_identity,
        store="orderly_rate_limit",
    )
