"""The correlation id of the work in hand, carried in a context variable.

Whoever starts a piece of work says which id its events carry: the HTTP edge
sets the request id for the request, a delivery adapter the handled event's
correlation id for the handler's run. The unit of work reads it when it stamps
events; where none is set (the CLI, the sweeper) each unit of work gets a fresh
id. Use cases never pass it along. It lives among the ports (not the use cases)
because both the unit of work and the delivery adapters need it
(docs/decisions/0013-correlation-in-a-context-variable.md).

A context variable follows the work: `contextvars.copy_context()` carries it into a
thread (entrypoints/http/offload.py does), asyncio tasks inherit it, and a new thread
starts without it.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from types import TracebackType

_current: ContextVar[str | None] = ContextVar("orderly_correlation_id", default=None)


def current_correlation_id() -> str | None:
    """The id set by the innermost `correlation` block, or None."""
    return _current.get()


class correlation:  # lower case: used as a function, `with correlation(id):`
    """Units of work opened inside stamp their events with `correlation_id` (None: each
    gets a fresh one). Restores the outer value on exit.

    A class rather than a `@contextmanager` generator: the HTTP edge enters one per
    request, and the generator's machinery cost as much as the rest of the block."""

    __slots__ = ("_id", "_token")

    def __init__(self, correlation_id: str | None) -> None:
        self._id = correlation_id
        self._token: Token[str | None] | None = None

    def __enter__(self) -> None:
        self._token = _current.set(self._id)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._token is not None, "correlation block exited without being entered"
        _current.reset(self._token)
        self._token = None
