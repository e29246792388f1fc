"""What a write group's stage offers, and SQL that sees what its members left staged.

In a SQLite write group (database.py, group_stage.py) the members' writes wait in
the group's stage and are sent together when the group commits. A statement sent
meanwhile on the group's thread (any read or write outside the staged paths)
must see them, so `send_staged` sends them first. The stage is per thread: a
group runs in one thread, on one connection, from start to end.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from sqlalchemy import Executable

# One step of queued writes: (statement, parameters), in the order they were made.
Step = list[tuple[Executable, dict[str, Any]]]


class Stage(Protocol):
    """What a write group's stage offers its members' queues and repositories (the
    implementation: group_stage.py)."""

    pending: bool  # writes are waiting to be sent
    products: dict[str, dict[str, Any]]  # product rows as read, by SKU
    stock: dict[str, tuple[int, int, int]]  # (on_hand, reserved, version) by SKU
    idempotency: dict[tuple[str, str], dict[str, Any]]  # staged rows by (principal, key)

    def take(self, steps: list[Step]) -> None: ...

    def send(self) -> None: ...

    def forget_rows(self) -> None: ...


_local = threading.local()


def send_staged() -> None:
    """Send the staged writes of the write group this thread runs, if any."""
    stage: Stage | None = getattr(_local, "stage", None)
    if stage is not None and stage.pending:
        stage.send()


def set_stage(stage: Stage | None) -> None:
    _local.stage = stage
