"""A JSON response whose ASGI form is built in one step.

For every response a handler returns, Litestar's `Response.to_asgi_response`
merges the layers' headers, cookies and type encoders, and `ASGIResponse`
copies the headers into a `MutableScopeHeaders`, then scans them twice to add
content-type and content-length: about 56,000 of a GET /v1/orders/{id}'s 863,000
instructions in the app (`benchmarks/bench_app_instructions.py`). An order's
answer needs none of those layers, so `JsonResponse` encodes the body as
Litestar would (msgspec, with the app's type encoders for what msgspec cannot
encode) and hands over the finished header list, in the order and spelling
Litestar sends (the handler's headers lower-cased, then content-type and
content-length). When a layer does add something (background tasks, cookies,
response headers, its own type encoders, another media type, a status without a
body) it is Litestar's own assembly, unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from litestar import Response
from litestar.datastructures.headers import MutableScopeHeaders
from litestar.enums import MediaType
from litestar.response.base import ASGIResponse
from litestar.serialization import encode_json, get_serializer
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

if TYPE_CHECKING:
    from collections.abc import Iterable

    from litestar import Litestar, Request
    from litestar.background_tasks import BackgroundTask, BackgroundTasks
    from litestar.datastructures import Cookie
    from litestar.types import TypeEncodersMap

T = TypeVar("T")

_JSON = MediaType.JSON.value
_CONTENT_TYPE = (b"content-type", _JSON.encode("latin-1"))
_WITH_BODY = frozenset((HTTP_200_OK, HTTP_201_CREATED))  # what order answers send with content


class JsonResponse(Response[T]):
    """A `Response` of JSON content with plain string headers and no cookies."""

    def to_asgi_response(
        self,
        app: Litestar | None,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        status = self.status_code or status_code or HTTP_200_OK
        plain = status in _WITH_BODY and not (
            app or background or cookies or encoded_headers or headers or is_head_response
            or self.background or self.cookies or self.response_type_encoders
            or (self.media_type or media_type or _JSON) != _JSON
        )  # fmt: skip
        if not plain:
            return super().to_asgi_response(
                app,
                request,
                background=background,
                cookies=cookies,
                encoded_headers=encoded_headers,
                headers=headers,
                is_head_response=is_head_response,
                media_type=media_type,
                status_code=status_code,
                type_encoders=type_encoders,
            )
        # The app's type encoders (plugins register some) only serve types msgspec
        # cannot encode itself, as in Litestar's own rendering.
        body = encode_json(self.content, get_serializer(type_encoders))
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        raw += [_CONTENT_TYPE, (b"content-length", b"%d" % len(body))]
        return ReadyResponse(status, raw, body)


class ReadyResponse(ASGIResponse):
    """An `ASGIResponse` made from a finished header list and body.

    `ASGIResponse.__init__` is not called: it would rebuild the very list given here.
    Every attribute it sets is set, so the sending methods are Litestar's own.
    """

    __slots__ = ()

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status_code = status
        self.headers = MutableScopeHeaders({"headers": headers})
        self.body = body
        self.content_length = len(body)
        self.background = None
        self.encoding = "utf-8"
        self.is_head_response = False
        self._encoded_cookies = ()
