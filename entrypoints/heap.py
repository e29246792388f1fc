"""Long-running processes take what start-up built out of the garbage collector's reach.

By the time a process serves or consumes, its modules, the Litestar app or pika,
the container, SQLAlchemy's tables and compiled statements are some 160,000
objects that live as long as the process. CPython's oldest-generation collection
walks all of them each time it runs: a third of the worker's CPU in one profile,
and on a loaded `orderly serve` pauses of 0.1-0.5 s several times a minute, in
the middle of requests (the worst of the p99 tail). `gc.freeze()` moves them to a
permanent generation that collections skip; what the process allocates later is
collected as before. Figures in docs/performance.md.
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Collect start-up's garbage (so it is not kept forever), then freeze the rest."""
    gc.collect()
    gc.freeze()
