"""After-commit hooks: how a committed unit of work wakes event delivery."""

from __future__ import annotations

import threading
from collections.abc import Callable

from core.domain.events import EventEnvelope

Hook = Callable[[list[EventEnvelope]], None]


class CommitHooks:
    def __init__(self) -> None:
        self._hooks: list[Hook] = []
        self._lock = threading.Lock()

    def subscribe(self, hook: Hook) -> None:
        with self._lock:
            self._hooks.append(hook)

    def __call__(self, envelopes: list[EventEnvelope]) -> None:
        for hook in list(self._hooks):
            hook(envelopes)
