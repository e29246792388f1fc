"""The Litestar application factory: `create_app(container)`.

Nothing is created at import time; each call builds a fresh app over the given
container (tests build many). Controllers only translate: HTTP to use-case
commands, views to JSON, domain errors to problem+json.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from litestar import Litestar, Router
from litestar.middleware import DefineMiddleware

from adapters.tracing import otel
from core.use_cases.support import Actor
from entrypoints.container import Container
from entrypoints.delivery import start_delivery
from entrypoints.http.auth import BearerAuthMiddleware
from entrypoints.http.controllers.health import health_handlers
from entrypoints.http.controllers.orders import OrderController
from entrypoints.http.controllers.products import ProductController
from entrypoints.http.controllers.stock import StockController
from entrypoints.http.controllers.webhooks import webhook_controller
from entrypoints.http.dependencies import provide_services
from entrypoints.http.metrics import AppMetrics, prometheus_config
from entrypoints.http.offload import Offload
from entrypoints.http.openapi_docs import (
    SECURITY,
    ClosedStructSchemaPlugin,
    assets_router,
    openapi_config,
)
from entrypoints.http.problems import exception_handlers
from entrypoints.http.rate_limit import RedisBuckets, buckets_for, rate_limit_middleware
from entrypoints.http.request_context import RequestContextMiddleware
from entrypoints.http.strict_input import StrictInput
from entrypoints.webhook_sender import sends_in_process, webhook_runner

MAX_BODY_BYTES = 64 * 1024


def create_app(
    container: Container, *, deliver_events: bool = True, serving_processes: int = 1
) -> Litestar:
    """The API over `container`.

    With `deliver_events` (the default) the app's lifespan calls
    `start_delivery(container)` on startup and stops what it returns on shutdown;
    pass False when the caller has already started delivery for this container.
    """
    metrics = AppMetrics(lambda: container.outbox_queries().status())
    offload = offload_for(container)
    buckets = buckets_for(
        container.config.rate_limit_per_minute(), container.config.redis_url(), serving_processes
    )

    def authenticate(api_key: str) -> Actor:
        result: Actor = container.authenticate()(api_key)
        return result

    v1 = Router(
        path="/v1",
        route_handlers=[
            ProductController,
            StockController,
            OrderController,
            webhook_controller(container),
        ],
        # Every /v1 operation needs the bearer key (the middleware below): documented once.
        security=SECURITY,
        before_request=StrictInput(),
        middleware=[
            rate_limit_middleware(buckets),
            DefineMiddleware(BearerAuthMiddleware, authenticate=authenticate, offload=offload),
        ],
    )

    @asynccontextmanager
    async def delivery(_: Litestar) -> AsyncIterator[None]:
        handle: Any = start_delivery(container) if deliver_events else None
        # Webhooks are sent from this process when messaging is in-process.
        sends = deliver_events and sends_in_process(container)
        runner = webhook_runner(container).start() if sends else None
        try:
            yield
        finally:
            for started in (runner, handle):  # the sender first, as it was started last
                stop = getattr(started, "stop", None)
                if callable(stop):
                    await anyio.to_thread.run_sync(stop)
            await anyio.to_thread.run_sync(offload.shutdown)
            if isinstance(buckets, RedisBuckets):
                await buckets.close()

    app = Litestar(
        route_handlers=[v1, *health_handlers(container), metrics.handler(), assets_router()],
        exception_handlers=exception_handlers(),
        middleware=[prometheus_config().middleware],
        openapi_config=openapi_config(),
        plugins=[ClosedStructSchemaPlugin(), *otel.litestar_plugins()],  # server spans
        request_max_body_size=MAX_BODY_BYTES,
        lifespan=[delivery],
        logging_config=None,
        debug=False,
    )
    # Outermost, so that 404 and 405 (answered before any route middleware) carry an id too.
    app.asgi_handler = RequestContextMiddleware(app.asgi_handler)
    provide_services(app, container, offload, metrics)  # for the handlers' `services_of`
    app.state.offload = offload  # where blocking work runs (tests count its hops)
    return app


def offload_for(container: Container) -> Offload:
    """Where this app's blocking storage calls run (see entrypoints/http/offload.py)."""
    storage = container.config.storage()
    if storage != "sql":
        return Offload.for_storage(storage, is_sqlite=False, pool_size=0)
    database = container.database()
    choice = container.config.database_inline_reads()
    return Offload.for_storage(
        storage,
        database.is_sqlite,
        database.pool_size,
        group=database.group,
        inline_reads=database.is_local if choice == "auto" else choice == "true",
    )
