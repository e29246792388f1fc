"""Clock and identifiers, so that tests can fix them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class IdGenerator(Protocol):
    def new_id(self) -> str:
        """A new unique identifier (a UUID string)."""
        ...

    def new_ids(self, count: int) -> list[str]:
        """`count` new unique identifiers, as `new_id` makes them; one call for a unit of
        work's events (a bulk import stamps thousands per commit)."""
        ...

    def new_secret(self) -> str:
        """A new random secret of at least 32 bytes, URL-safe text."""
        ...
