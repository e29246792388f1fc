"""Long-running processes take what start-up built out of the garbage collector's reach.

By the time a process serves or consumes, its modules, the Litestar app or pika,
the container, SQLAlchemy's tables and compiled statements are some 160,000
objects that live as long as the process. CPython's oldest-generation collection
walks all of them each time it runs: a third of the worker's CPU in one profile,
and on a loaded `orderly serve` pauses of 0.1-0.5 s several times a minute, in
the middle of requests (the worst of the p99 tail). `gc.freeze()` moves them to a
permanent generation that collections skip; what the process allocates later is
collected as before.

The youngest generation is then collected every 20,000 net allocations instead of
CPython's 700. A young collection walks every container object still alive (on a
server, those of all the requests in flight), so at 700 a loaded `orderly serve`
ran about 45 of them a second. Almost nothing it allocates is cyclic garbage (a
unit of work makes no cycle: tests/contract/test_unit_of_work.py), so waiting
longer keeps no memory, and GC time fell from about 4 % of the CPU to under 1 %.
Figures in docs/performance.md.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_GENERATION_THRESHOLD = 20_000


def settle_heap() -> None:
    """Collect start-up's garbage (so it is not kept forever), freeze the rest, and
    collect the youngest generation less often."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, oldest)


@contextmanager
def young_collections_spaced() -> Iterator[None]:
    """The youngest generation at YOUNG_GENERATION_THRESHOLD for the block only, for a
    bulk command in a process that may do more afterwards (tests run commands in
    their own process). `orderly products import` keeps a batch of rows alive until
    it commits, and each young collection walked all of it: about a quarter of the
    import's CPU, gone with the wider spacing (benchmarks/README.md)."""
    previous = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
