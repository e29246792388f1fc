"""ASGI factory for `orderly serve`: the container from ORDERLY_* and JSON logs.

Servers import `entrypoints.http.asgi:app_factory` and call it once per worker
process, so each worker builds its own container (and database pool).
"""

from __future__ import annotations

from litestar import Litestar

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.logs import configure_logging
from entrypoints.settings import Settings


def app_factory() -> Litestar:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return create_app(build_container(settings))
