"""Where a request's blocking storage work runs: at most one thread hop per request.

Profiling `orderly serve` showed the event loop as the limit: each request hopped
to a thread twice (authentication, then the handler) through anyio's
general-purpose machinery, and 40 threads contended for the GIL and for the
SQLite write lock. Now a handler hands its blocking part to `read` or `write`,
and the storage decides where that runs:

- SQLite (the embedded default): reads run inline on the event loop. In WAL mode
  a read never waits for the writer, and an indexed lookup takes less time than
  a thread hop. Writes go to one writer thread: SQLite has a single writer
  anyway, and a write may wait for another process's lock, which must never
  stall the loop.
- PostgreSQL: both go to a pool of threads as large as the connection pool, so
  no thread waits for a connection, and row locks let writes run side by side.
- memory://: inline; everything is in-process and brief.

A group commit of queued placements (one transaction, a savepoint each) was
tried and measured slower on SQLite: two savepoint statements cost more than
the commit they save (benchmarks/README.md).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Offload:
    def __init__(self, *, inline_reads: bool, threads: int) -> None:
        """`threads` 0 runs writes inline too."""
        self._inline_reads = inline_reads
        self.hops = 0  # thread hops so far (tests keep the request path from growing)
        self._pool = (
            ThreadPoolExecutor(threads, thread_name_prefix="orderly-storage") if threads else None
        )

    @classmethod
    def for_storage(cls, storage: str, is_sqlite: bool, pool_size: int) -> Offload:
        if storage == "memory":
            return cls(inline_reads=True, threads=0)
        if is_sqlite:
            return cls(inline_reads=True, threads=1)
        return cls(inline_reads=False, threads=pool_size)

    async def read(self, fn: Callable[[], T]) -> T:
        """A read-only call (it may authenticate and query, never write)."""
        if self._inline_reads:
            return fn()
        return await self._hop(fn)

    async def write(self, fn: Callable[[], T]) -> T:
        """A call that writes, and may read before and after."""
        return await self._hop(fn)

    async def _hop(self, fn: Callable[[], T]) -> T:
        if self._pool is None:
            return fn()
        self.hops += 1
        # The context goes along, so log lines written in the thread keep the request id.
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(self._pool, context.run, fn)

    def __deepcopy__(self, memo: dict[int, object]) -> Offload:
        # Litestar deep-copies routers with their middleware arguments; the threads
        # are the app's one shared resource, never to be duplicated.
        return self

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
