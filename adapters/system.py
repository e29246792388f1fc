"""System clock and identifiers, plus fixed ones for tests."""

from __future__ import annotations

import os
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            # Strictly increasing so that "newest first" is well defined in tests.
            self._now += timedelta(microseconds=1)
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)


_RAND_B = (1 << 62) - 1
# A random hex digit's low 2 bits under the RFC variant's 0b10: the digit 8, 9, a or b.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


class _RandomBytes(threading.local):
    """Bytes from os.urandom, read a page at a time per thread.

    os.urandom gives up the GIL for its system call; under load the thread then
    waits for the event loop thread to hand the GIL back, and the SQLite writer
    thread did that twice per placement (order id, event id): a visible share of
    its time (docs/performance.md). The bytes are the same kernel randomness, each
    handed out once; a forked child starts from a fresh read.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._pos = 0
        self._generation = -1

    def take(self, count: int) -> bytes:
        pos = self._pos
        if pos + count > len(self._buffer) or self._generation != _fork_generation:
            self._buffer = os.urandom(max(count, _RANDOM_PAGE))
            self._generation = _fork_generation
            pos = 0
        self._pos = pos + count
        return self._buffer[pos : pos + count]


_RANDOM_PAGE = 4096
_fork_generation = 0


def _forked() -> None:
    global _fork_generation
    _fork_generation += 1


os.register_at_fork(after_in_child=_forked)
_RANDOM = _RandomBytes()  # one page per thread, shared by every generator


def random_hex(count: int) -> str:
    """`count` random bytes as hex (2 x count digits), from the same per-thread page:
    the HTTP edge's request ids, one per request."""
    return _RANDOM.take(count).hex()


class UuidGenerator:
    """Time-ordered ids: UUID version 7 (RFC 9562), 48 bits of Unix milliseconds, then
    74 random bits.

    Orders and outbox events are keyed by these ids; random (version 4) keys land
    on random pages of their B-tree indexes, so each batch of inserts dirtied (and
    wrote to SQLite's WAL) a page per row once the index outgrew the cache, and the
    cost per insert grew with the table. Time-ordered keys append at the right edge.
    Built from the bits directly, not through uuid.UUID: half the cost, and a bulk
    import stamps two event ids per row.
    """

    def new_id(self) -> str:
        r = int.from_bytes(_RANDOM.take(10))
        value = (
            (time.time_ns() // 1_000_000) << 80
            | 0x7 << 76  # version
            | (r >> 62 & 0xFFF) << 64  # rand_a
            | 0b10 << 62  # RFC variant
            | r & _RAND_B  # rand_b
        )
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def new_ids(self, count: int) -> list[str]:
        # The same layout as new_id, cut from the hex of one read of the random source,
        # under one reading of the clock: 0.3 us an id against 1.4 us (a bulk import's
        # commit stamps 2,000 event ids). Of each id's 20 random hex digits, 3 are
        # rand_a, 1 gives the variant digit its 2 random bits, 15 are the rest of
        # rand_b (74 random bits in all); the 20th is not used.
        if count == 1:  # a placement's commit: new_id is the cheaper for one
            return [self.new_id()]
        millis = f"{time.time_ns() // 1_000_000:012x}"
        head = f"{millis[:8]}-{millis[8:]}-7"  # version 7
        hexed = _RANDOM.take(10 * count).hex()
        return [
            f"{head}{hexed[i : i + 3]}-{_VARIANT[hexed[i + 3]]}{hexed[i + 4 : i + 7]}-"
            f"{hexed[i + 7 : i + 19]}"
            for i in range(0, 20 * count, 20)
        ]

    def new_secret(self) -> str:
        return secrets.token_urlsafe(32)
