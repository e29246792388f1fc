"""Route decorators whose guards get the route handler itself (entrypoints/http/handlers.py)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.testing import TestClient

from entrypoints.http.handlers import delete, get, patch, post, put


def test_guards_run_in_order_on_the_handler_itself_and_can_refuse() -> None:
    seen: list[tuple[str, BaseRouteHandler]] = []

    async def first(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        seen.append(("first", handler))

    async def refuse(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        seen.append(("refuse", handler))
        if connection.query_params.get("deny"):
            raise PermissionDeniedException("no")

    @post("/thing", guards=[first, refuse], status_code=201)
    async def create() -> dict[str, str]:
        return {"made": "yes"}

    routes = [
        create,
        get("/a")(_ok),
        put("/b")(_ok),
        patch("/c")(_ok),
        delete("/d", status_code=200)(_ok),
    ]
    with TestClient(Litestar(routes, logging_config=None)) as client:  # (ours: logs.py)
        assert client.post("/thing").json() == {"made": "yes"}
        assert client.post("/thing?deny=1").status_code == 403
        assert [
            client.request(m, p).status_code
            for m, p in [("GET", "/a"), ("PUT", "/b"), ("PATCH", "/c"), ("DELETE", "/d")]
        ] == [200] * 4
    assert [name for name, _ in seen] == ["first", "refuse", "first", "refuse"]
    handler = client.app.route_handler_method_map["/thing"]["POST"]
    assert all(h is handler for _, h in seen), "no copy per request"


async def _ok() -> str:
    return "ok"
