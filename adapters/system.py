"""System clock and identifiers, plus fixed ones for tests."""

from __future__ import annotations

import secrets
import threading
import uuid
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


class UuidGenerator:
    def new_id(self) -> str:
        return str(uuid.uuid4())

    def new_secret(self) -> str:
        return secrets.token_urlsafe(32)
