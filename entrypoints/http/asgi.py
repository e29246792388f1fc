"""ASGI factory for `orderly serve`: the container from ORDERLY_* and JSON logs.

Servers import `entrypoints.http.asgi:app_factory` and call it once per worker
process, so each worker builds its own container (and database pool).
"""

from __future__ import annotations

import os

from litestar import Litestar

from entrypoints.container import build_container
from entrypoints.delivery import track_delivery_metrics
from entrypoints.delivery_process import APART_ENV
from entrypoints.heap import settle_heap
from entrypoints.http.app import create_app
from entrypoints.logs import configure_logging
from entrypoints.settings import SERVING_PROCESSES_ENV, Settings
from entrypoints.webhook_sender import track_webhook_metrics


def app_factory() -> Litestar:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    # `orderly serve --workers N` tells each worker how many share the rate limit.
    processes = int(os.environ.get(SERVING_PROCESSES_ENV, "1") or "1")
    # Beside a delivery process of its own (entrypoints/delivery_process.py) this process
    # only serves, and reads the delivery gauges from the database when scraped.
    apart = os.environ.get(APART_ENV) == "1"
    container = build_container(settings)
    app = create_app(container, serving_processes=processes, deliver_events=not apart)
    if apart:
        track_delivery_metrics(container)
        track_webhook_metrics(container)
    settle_heap()  # entrypoints/heap.py: no full-heap GC pauses mid-request
    return app
