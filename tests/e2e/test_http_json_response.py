"""The order answers' response (entrypoints/http/json_response.py): the very messages
Litestar's own assembly sends, and Litestar's assembly whenever a layer adds anything."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from litestar import Response
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import Cookie
from litestar.response.base import ASGIResponse

from entrypoints.http import json_response
from entrypoints.http.json_response import JsonResponse, ReadyResponse
from tests.e2e.http_support import running_api

CONTENT = {
    "id": UUID("01a2368f-4814-70b9-b5de-ff87d080ae81"),
    "at": datetime(2026, 12, 2, 11, 0, tzinfo=UTC),
    "lines": [{"sku": "SKU-1", "quantity": 2, "note": "é ü"}],
}


def _type_encoders(tmp_path: Path) -> Any:
    """The encoders the real app hands an order handler (plugins register some)."""
    with running_api("memory", tmp_path) as api:
        (route,) = [r for r in api.client.app.routes if r.path == "/v1/orders/{order_id:str}"]
        handler, _ = route.route_handler_map["GET"]
        return handler.resolve_type_encoders()


def _sent(response: ASGIResponse) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        messages.append(dict(message))

    asyncio.run(response({"type": "http"}, receive, send))  # type: ignore[arg-type]
    return messages


def _both(content: Any, layers: dict[str, Any], **options: Any) -> tuple[ASGIResponse, ...]:
    """Litestar's ASGI response and ours, for the same response and the same layers."""
    made = []
    for kind in (Response, JsonResponse):
        response = kind(content, **options)
        made.append(response.to_asgi_response(None, None, **layers))  # type: ignore[arg-type]
    return tuple(made)


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (200, {"ETag": '"3"', "Cache-Control": "private, no-cache"}),
        (201, {"ETag": '"1"', "Location": "/v1/orders/x", "Idempotent-Replayed": "true"}),
        (None, {}),
    ],
)
def test_the_messages_are_the_ones_litestar_sends(
    tmp_path: Path, status: int | None, headers: dict[str, str]
) -> None:
    layers = {
        "background": None,
        "cookies": [],
        "headers": {},
        "media_type": "",
        "status_code": 200,
        "type_encoders": _type_encoders(tmp_path),
    }
    theirs, ours = _both(CONTENT, layers, status_code=status, headers=headers)
    assert type(ours) is ReadyResponse
    assert _sent(ours) == _sent(theirs)


@pytest.mark.parametrize(
    ("layers", "options"),
    [
        ({"cookies": [Cookie(key="k", value="v")]}, {}),
        ({"headers": {"X-Layer": "1"}}, {}),
        ({"background": BackgroundTask(lambda: None)}, {}),
        ({}, {"cookies": [Cookie(key="k", value="v")]}),
        ({}, {"media_type": "application/vnd.other+json"}),
        ({}, {"status_code": 204}),
    ],
)
def test_anything_a_layer_adds_goes_through_litestars_assembly(
    layers: dict[str, Any], options: dict[str, Any]
) -> None:
    content = None if options.get("status_code") == 204 else CONTENT
    theirs, ours = _both(content, layers, **options)
    assert type(ours) is ASGIResponse
    assert _sent(ours) == _sent(theirs)


def test_the_order_endpoints_answer_through_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[int] = []
    init = ReadyResponse.__init__

    def counted(self: ReadyResponse, *args: Any) -> None:
        made.append(args[0])
        init(self, *args)

    monkeypatch.setattr(json_response.ReadyResponse, "__init__", counted)
    with running_api("sqlite", tmp_path) as api:
        api.product("SKU-1", price=250, on_hand=5)
        placed = api.place(api.alice, ("SKU-1", 2))
        got = api.client.get(placed.headers["location"], headers=api.alice)
    assert made == [201, 200]
    for answer in (placed, got):
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["content-length"] == str(len(answer.content))
        assert answer.headers["etag"] and answer.headers["x-request-id"]
    # In-process delivery may pay the order between the two requests, so what the
    # payment moves (status, version, updated_at) is compared through the ETag only.
    moved = {"status", "version", "updated_at"}
    body, placed_body = got.json(), placed.json()
    assert {k: v for k, v in body.items() if k not in moved} == {
        k: v for k, v in placed_body.items() if k not in moved
    }
    assert got.headers["etag"] == f'"{body["version"]}"'
