"""Route decorators (get, post, ...) whose guards are handed the route handler itself.

Litestar passes each guard a shallow copy of the route handler (`copy(self)`, so that
a guard cannot change the handler for later requests). Copying an object of that
size was about 7 % of the event loop's time on a POST /v1/orders (py-spy, issue 9).
Our guards (auth.py) look only at the connection, so they get the handler as is.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler


class GuardedInPlace(HTTPRouteHandler):
    async def authorize_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        for guard in self.resolve_guards():
            await guard(connection, self)  # type: ignore[misc]  # (resolved guards are async)


def get(path: str | None = None, **options: Any) -> GuardedInPlace:
    return GuardedInPlace(path, http_method=HttpMethod.GET, **options)


def post(path: str | None = None, **options: Any) -> GuardedInPlace:
    return GuardedInPlace(path, http_method=HttpMethod.POST, **options)


def put(path: str | None = None, **options: Any) -> GuardedInPlace:
    return GuardedInPlace(path, http_method=HttpMethod.PUT, **options)


def patch(path: str | None = None, **options: Any) -> GuardedInPlace:
    return GuardedInPlace(path, http_method=HttpMethod.PATCH, **options)


def delete(path: str | None = None, **options: Any) -> GuardedInPlace:
    return GuardedInPlace(path, http_method=HttpMethod.DELETE, **options)
