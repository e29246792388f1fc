"""Route decorators (get, post, ...) whose guards are handed the route handler itself.

Litestar passes each guard a shallow copy of the route handler (`copy(self)`, so that
a guard cannot change the handler for later requests). Copying an object of that
size was about 7 % of the event loop's time on a POST /v1/orders (py-spy, issue 9).
Our guards (auth.py) look only at the connection, so they get the handler as is.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler


class GuardedInPlace(HTTPRouteHandler):
    async def authorize_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
        for guard in self.resolve_guards():
            await guard(connection, self)  # type: ignore[misc]  # (resolved guards are async)


# Litestar's decorators, spelled as Litestar spells them: get("/path", ...)(handler).
get = partial(GuardedInPlace, http_method=HttpMethod.GET)
post = partial(GuardedInPlace, http_method=HttpMethod.POST)
put = partial(GuardedInPlace, http_method=HttpMethod.PUT)
patch = partial(GuardedInPlace, http_method=HttpMethod.PATCH)
delete = partial(GuardedInPlace, http_method=HttpMethod.DELETE)
