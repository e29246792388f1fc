"""ASGI factory for `orderly serve`: the container from ORDERLY_* and JSON logs.

Servers import `entrypoints.http.asgi:app_factory` and call it once per worker
process, so each worker builds its own container (and database pool).
"""

from __future__ import annotations

import os

from litestar import Litestar

from entrypoints.container import build_container
from entrypoints.heap import settle_heap
from entrypoints.http.app import create_app
from entrypoints.logs import configure_logging
from entrypoints.settings import SERVING_PROCESSES_ENV, Settings


def app_factory() -> Litestar:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    # `orderly serve --workers N` tells each worker how many share the rate limit.
    processes = int(os.environ.get(SERVING_PROCESSES_ENV, "1") or "1")
    app = create_app(build_container(settings), serving_processes=processes)
    settle_heap()  # entrypoints/heap.py: no full-heap GC pauses mid-request
    return app
