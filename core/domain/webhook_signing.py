"""Webhook signatures: `Orderly-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`, an
HMAC-SHA256 over "<t>.<body>" per valid secret (two during a rotation). The sender
signs with `signature_header`; `verify_signature` is what a receiver does."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """hex HMAC-SHA256 keyed by the whole secret (prefix included) over "<t>.<body>"."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex>[,v1=<hex>]`: one v1 per valid secret."""
    parts = [f"t={timestamp}"] + [f"v1={signature(s, timestamp, body)}" for s in secrets]
    return ",".join(parts)


def verify_signature(
    secret: str, header: str, body: bytes, now_unix: int, tolerance_seconds: int = 300
) -> bool:
    """What a receiver does (the README shows the same in a dozen lines)."""
    items = [item.split("=", 1) for item in header.split(",") if "=" in item]
    timestamps = [v for k, v in items if k == "t"]
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return False
    timestamp = int(timestamps[0])
    if abs(now_unix - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, v) for k, v in items if k == "v1")
