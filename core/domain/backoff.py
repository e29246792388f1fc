"""Exponential backoff: how long to wait after the n-th failure in a row. One rule for
every retry loop (the relay, the outbox listener, handler retries, the webhook sender's
passes and the retries of a delivery)."""

from __future__ import annotations

# 2**64 times any first delay in use is far beyond any cap, and stays a float: an
# unbounded power of two overflows one after about a thousand failures in a row, which
# would end a retry loop that has been waiting out a long outage.
_MAX_DOUBLINGS = 64


def backoff(failures: int, first: float, cap: float) -> float:
    """`first` after the first failure, twice as long after each further one, at most `cap`."""
    return min(cap, first * 2.0 ** min(max(failures, 1) - 1, _MAX_DOUBLINGS))
