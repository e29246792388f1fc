"""Litestar dependencies resolved from the container, one per request.

dependency-injector has no Litestar integration; each use case is resolved from
its provider inside a Litestar `Provide`, so overriding a provider on the
container (as tests do) takes effect on the next request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.di import Provide

from core.use_cases.support import Actor
from entrypoints.container import Container
from entrypoints.http.auth import actor_of
from entrypoints.http.request_context import request_id_of

USE_CASES = (
    "create_product",
    "update_product",
    "set_stock",
    "adjust_stock",
    "place_order",
    "cancel_order",
    "ship_order",
    "product_queries",
    "order_queries",
)


def _resolver(container: Container, name: str) -> Callable[[], Any]:
    def resolve() -> Any:
        return getattr(container, name)()

    return resolve


def _actor(request: Request[Any, Any, Any]) -> Actor:
    return actor_of(request)


def _correlation_id(request: Request[Any, Any, Any]) -> str | None:
    return request_id_of(request.scope)


def dependencies(container: Container) -> dict[str, Provide]:
    provided = {
        name: Provide(_resolver(container, name), sync_to_thread=False) for name in USE_CASES
    }
    provided["actor"] = Provide(_actor, sync_to_thread=False)
    provided["correlation_id"] = Provide(_correlation_id, sync_to_thread=False)
    return provided
