"""SQL sent inside a write group sees what the group's members left staged.

In a SQLite write group (database.py, group_stage.py) the members' writes wait in
the group's stage and are sent together when the group commits. A statement sent
meanwhile on the group's thread (any read or write outside the staged paths)
must see them, so `send_staged` sends them first. The stage is per thread: a
group runs in one thread, on one connection, from start to end.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Stage(Protocol):
    pending: bool

    def send(self) -> None: ...


_local = threading.local()


def send_staged() -> None:
    """Send the staged writes of the write group this thread runs, if any."""
    stage: Stage | None = getattr(_local, "stage", None)
    if stage is not None and stage.pending:
        stage.send()


def set_stage(stage: Stage | None) -> None:
    _local.stage = stage
