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
- PostgreSQL: writes go to a pool of threads as large as the connection pool, so
  no thread waits for a connection, and row locks let writes run side by side.
  Reads run inline too when the server is on this machine (a loopback address or a
  Unix socket; ORDERLY_DATABASE_INLINE_READS overrides): a lookup's round trip there
  costs less than the two thread switches and the GIL hand-offs of a hop, and GET
  /v1/orders/{id} served about half again as many requests (A/B, docs/performance.md).
  A request that goes on to write looks its key up in a thread all the same
  (`read(..., before_write=True)`): it hops for its write anyway, and inline the
  lookup's wait kept the loop from other requests (POST 7-10 % slower). A server
  across a network keeps every read in a thread, where the waits overlap.
- memory://: inline; everything is in-process and brief.

On SQLite the commit is the largest single cost of a placement (writing the
pages of four tables and their indexes to the WAL), so placements that queue up
while the writer is busy share one: `place` jobs are group-committed
(`SqlDatabase.group`), and each caller hears back only after that commit. A
group that a member spoils is rolled back and its members run again one by one.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

# Placements committed together at most; more wait for the next group.
MAX_GROUP = 64

GroupFactory = Callable[[], AbstractContextManager[Any]]


class Offload:
    def __init__(
        self,
        *,
        inline_reads: bool,
        threads: int,
        group: GroupFactory | None = None,
        hop_reads_before_writes: bool = False,
    ) -> None:
        """`threads` 0 runs writes inline too; with `group`, one writer thread runs
        every write and group-commits placements. `hop_reads_before_writes`: a read
        made `before_write` hops even where reads run inline."""
        self._inline_reads = inline_reads
        self._hop_before_write = hop_reads_before_writes
        self.hops = 0  # thread hops so far (tests keep the request path from growing)
        self._writer = _GroupWriter(group) if group is not None else None
        self._pool = _Threads(threads) if threads and group is None else None

    @classmethod
    def for_storage(
        cls,
        storage: str,
        is_sqlite: bool,
        pool_size: int,
        group: GroupFactory | None = None,
        *,
        inline_reads: bool = False,
    ) -> Offload:
        """`inline_reads` is PostgreSQL's choice (see the module docstring)."""
        if storage == "memory":
            return cls(inline_reads=True, threads=0)
        if is_sqlite:
            return cls(inline_reads=True, threads=1, group=group)
        return cls(inline_reads=inline_reads, threads=pool_size, hop_reads_before_writes=True)

    async def read(self, fn: Callable[[], T], *, before_write: bool = False) -> T:
        """A read-only call (it may authenticate and query, never write);
        `before_write`: the request it belongs to writes next."""
        if self._inline_reads and not (before_write and self._hop_before_write):
            return fn()
        return await self._hop(fn)

    async def write(self, fn: Callable[[], T]) -> T:
        """A call that writes, and may read before and after."""
        return await self._hop(fn, groupable=False)

    async def place(self, fn: Callable[[], T]) -> T:
        """A write whose whole answer comes from its own unit of work (no read on
        another connection after it), so it may share a group commit."""
        return await self._hop(fn, groupable=True)

    async def _hop(self, fn: Callable[[], T], groupable: bool = False) -> T:
        if self._writer is None and self._pool is None:
            return fn()
        self.hops += 1
        # The context goes along, so log lines written in the thread keep the request id.
        context = contextvars.copy_context()
        if self._writer is not None:
            return await self._writer.submit(fn, context, groupable)
        assert self._pool is not None
        return await self._pool.submit(fn, context)

    def __deepcopy__(self, memo: dict[int, object]) -> Offload:
        # Litestar deep-copies routers with their middleware arguments; the threads
        # are the app's one shared resource, never to be duplicated.
        return self

    def shutdown(self) -> None:
        if self._writer is not None:
            self._writer.stop()
        if self._pool is not None:
            self._pool.stop()


@dataclass(eq=False)
class _Job:
    fn: Callable[[], Any]
    context: contextvars.Context
    groupable: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    outcome: tuple[bool, Any] = field(default=(False, None))  # (ok, value or exception)

    @classmethod
    def pending(cls, fn: Callable[[], Any], context: contextvars.Context, groupable: bool) -> _Job:
        """A job for the running event loop, its future not yet settled."""
        loop = asyncio.get_running_loop()
        return cls(fn, context, groupable, loop, loop.create_future())

    def run(self) -> None:
        try:
            self.outcome = (True, self.context.run(self.fn))
        except Exception as exc:  # handed to the awaiting request
            self.outcome = (False, exc)

    def answer(self) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, self.outcome)


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.done():  # the client went away
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class _Threads:
    """A fixed pool of threads for PostgreSQL's storage calls.

    `loop.run_in_executor` costs a concurrent.futures Future, an executor work item
    and a chained asyncio Future per call, in Python, with the GIL: a sixth of the
    GIL samples of a lone POST on PostgreSQL (py-spy, session 20), two hops each. A
    job here is put on a C queue and answered with one `call_soon_threadsafe`, as
    the SQLite writer's are."""

    def __init__(self, threads: int) -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._size = threads
        self._threads: list[threading.Thread] = []  # started by the first call

    async def submit(self, fn: Callable[[], T], context: contextvars.Context) -> T:
        if not self._threads:  # only the event loop's thread submits: no race
            self._threads = [
                threading.Thread(target=self._run, name=f"orderly-storage_{n}", daemon=True)
                for n in range(self._size)
            ]
            for thread in self._threads:
                thread.start()
        job = _Job.pending(fn, context, groupable=False)
        self._queue.put(job)
        result: T = await job.future
        return result

    def stop(self) -> None:
        """Finish the jobs queued so far, then end every thread."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(30)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            job.run()
            job.answer()


class _GroupWriter:
    """One thread runs every write; placements queued together share one commit."""

    def __init__(self, group: GroupFactory) -> None:
        self._group = group
        self._queue: deque[_Job | None] = deque()
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="orderly-writer", daemon=True)
        self._thread.start()

    async def submit(self, fn: Callable[[], T], context: contextvars.Context, groupable: bool) -> T:
        job = _Job.pending(fn, context, groupable)
        with self._ready:
            self._queue.append(job)
            self._ready.notify()
        result: T = await job.future
        return result

    def stop(self) -> None:
        with self._ready:
            self._queue.append(None)
            self._ready.notify()
        self._thread.join(30)

    def _take(self) -> list[_Job | None]:
        with self._ready:
            while not self._queue:
                self._ready.wait()
            jobs = list(self._queue)
            self._queue.clear()
        return jobs

    def _run(self) -> None:
        while True:
            batch: list[_Job] = []
            for job in self._take():
                if job is None:  # stop: finish what was queued before it
                    self._flush(batch)
                    return
                if job.groupable:
                    batch.append(job)
                    if len(batch) == MAX_GROUP:
                        self._flush(batch)
                        batch = []
                    continue
                self._flush(batch)
                batch = []
                job.run()
                job.answer()
            self._flush(batch)

    def _flush(self, jobs: list[_Job]) -> None:
        if len(jobs) > 1:
            try:
                with self._group():
                    for job in jobs:
                        job.run()
            except Exception:  # spoiled, or the commit failed: nothing of it was kept
                pass
            else:
                for job in jobs:
                    job.answer()
                return
        for job in jobs:  # alone: in its own transaction, as if no group had been tried
            job.run()
            job.answer()
