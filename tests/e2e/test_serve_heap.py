"""A serving process takes its start-up objects out of the garbage collector's reach
(entrypoints/heap.py), so full collections do not walk them in the middle of requests."""

from __future__ import annotations

import os
import subprocess
import sys

from entrypoints.heap import YOUNG_GENERATION_THRESHOLD

PROBE = """
import gc
from entrypoints.http.asgi import app_factory
before = gc.get_freeze_count()
app_factory()
print(before, gc.get_freeze_count(), gc.get_threshold()[0])
"""


def test_the_serving_processes_app_factory_freezes_what_start_up_built() -> None:
    env = {**os.environ, "ORDERLY_DATABASE_URL": "memory://", "ORDERLY_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    before, after, young = map(int, done.stdout.split())
    # The app, the container and the modules they import: tens of thousands of objects.
    assert before == 0 and after > 20_000
    assert young == YOUNG_GENERATION_THRESHOLD > 700  # CPython's default is 700
