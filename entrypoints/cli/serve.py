"""`orderly serve`: the HTTP API under uvicorn.

uvicorn was measured against granian with `benchmarks/bench_http.py` (figures in
benchmarks/README.md): on this app the two were within noise of each other, so
the mature default of Litestar's `standard` extra wins, with no extra dependency.
Each worker process builds its own container through the ASGI factory.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import click

from core.ports.errors import DependencyUnavailable
from entrypoints.settings import (
    MULTIPROCESS_ENV,
    SERVING_PROCESSES_ENV,
    ConfigError,
    Settings,
)

# Litestar, uvicorn, SQLAlchemy and Alembic are imported when `serve` runs, not for --help.

FACTORY = "entrypoints.http.asgi:app_factory"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to bind."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (SQL storage only: memory:// cannot be shared).",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the HTTP API (and, with in-process messaging, the relay and handlers:
    on a SQLite file, in one process of its own beside the API).

    Configuration comes from ORDERLY_* variables; with none, it serves the SQLite
    file orderly.db, creating its schema if the file is new (any other database:
    run `orderly db upgrade` first). Stop with Ctrl-C or SIGTERM: requests in
    flight finish and the relay stops cleanly.
    """
    apart = _delivers_apart()
    metrics_dir = None
    if (workers > 1 or apart) and not os.environ.get(MULTIPROCESS_ENV):
        # The processes share their Prometheus samples through files here (a fresh
        # directory each run, as prometheus_client requires); any worker's /metrics
        # then reports them all. Set before anything imports prometheus_client.
        metrics_dir = tempfile.mkdtemp(prefix="orderly-metrics-")
        os.environ[MULTIPROCESS_ENV] = metrics_dir
    try:
        _serve(host, port, workers, apart)
    finally:
        if metrics_dir is not None:
            # Also when `serve` refused to start: nothing started later in this process
            # (tests run it in-process) may inherit a directory that is gone.
            del os.environ[MULTIPROCESS_ENV]
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve(host: str, port: int, workers: int, apart: bool) -> None:
    settings = _preflight()
    if workers > 1 and settings.storage == "memory":
        raise click.ClickException(
            "--workers > 1 needs shared storage: memory:// lives inside one process"
        )
    from entrypoints.delivery_process import APART_ENV, DeliveryProcess
    from entrypoints.logs import configure_logging

    configure_logging(settings.log_level)
    os.environ[SERVING_PROCESSES_ENV] = str(workers)
    delivery = None
    if apart:
        os.environ[APART_ENV] = "1"  # the serving processes leave delivery to it
        delivery = DeliveryProcess()
    try:
        _run(host, port, workers)
    finally:
        if delivery is not None:
            delivery.stop()


def _delivers_apart() -> bool:
    """Whether delivery gets a process of its own (entrypoints/delivery_process.py);
    a configuration error is reported by `_preflight`."""
    from entrypoints.delivery_process import runs_apart

    try:
        return runs_apart(Settings.from_env())
    except ConfigError:
        return False


def _run(host: str, port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,  # keep our JSON logging; uvicorn's loggers propagate to it
        access_log=False,  # the app writes its own access line, with the request id
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def _preflight() -> Settings:
    """Refuse in one line, before any worker starts, what would make every request fail."""
    from adapters.sql import migrate
    from entrypoints.container import build_container

    try:
        settings = Settings.from_env()
        container = build_container(settings)
        if settings.storage == "sql":
            database = container.database()
            state = migrate.state(database)
            if state.current is None and settings.database_url.startswith("sqlite"):
                # The embedded default works with no setup: a new SQLite file gets the schema.
                state = migrate.upgrade(database, "head")
                click.echo(f"Created the schema ({state.current}) in {database.url}.", err=True)
            database.dispose()
            if not state.up_to_date:
                raise click.ClickException(
                    f"the database schema is at {state.current or 'none (empty database)'}, "
                    f"not {state.head}: run `orderly db upgrade` first"
                )
    except (ConfigError, DependencyUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    return settings


def register(cli: click.Group) -> None:
    """Add this family's commands to the `orderly` group."""
    cli.add_command(serve)
