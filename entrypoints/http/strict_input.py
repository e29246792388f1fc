"""Strict reading of request input, before a handler runs.

Litestar converts bodies leniently (the string "5" becomes the integer 5) and
ignores query parameters it does not know. The API promises that input breaking
its schema is refused, so each handler's declared `data` type is decoded
strictly (not JSON at all is 400, JSON that breaks the schema is 422 naming the
field) and an undeclared query parameter, usually a typo such as `?stauts=`,
is 422 rather than silently ignored.

Bodies are JSON: a body declared as anything but `application/json` (or `+json`) is
415 before it is decoded, so a form post or a `text/plain` "simple request" from a browser
cannot place an order. An operation that takes no body (cancel, ship) accepts none or
`{}`; anything else is 422, so a client that thinks it passes options learns it does not.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.handlers import HTTPRouteHandler
from litestar.params import QueryParameter

from core.domain.errors import FieldProblem
from entrypoints.http.problems import ProblemException
from entrypoints.http.scope_headers import scope_header

_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_NAMED = re.compile(r"(?:missing required|unknown) field `(?P<name>[^`]+)`")


def field_problem(error: msgspec.ValidationError) -> FieldProblem:
    """`Expected int >= 0 - at $.lines[0].quantity` -> (lines[0].quantity, Expected int >= 0)."""
    match = _AT.match(str(error))
    message = match.group("message") if match else str(error)
    path = (match.group("path") or "") if match else ""
    path = path.lstrip(".")
    named = _NAMED.search(message)
    if named:
        path = f"{path}.{named.group('name')}" if path else named.group("name")
    return FieldProblem(path or "body", message.replace("`", ""))


def is_json_media_type(content_type: str | None) -> bool:
    """`application/json` or a `+json` type such as `application/merge-patch+json`."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def require_json_content_type(request: Request[Any, Any, Any]) -> None:
    """415 unless the body is declared JSON. A body with no Content-Type at all is read as
    JSON (RFC 9110 lets the recipient decide); a browser's cross-site "simple request"
    always declares one (text/plain, a form, multipart), and that is refused."""
    content_type = scope_header(request.scope, b"content-type")
    if content_type is None:
        return
    if not is_json_media_type(content_type):
        raise ProblemException(
            415,
            "unsupported_media_type",
            f"the request body must be sent as application/json, not {content_type}",
        )


async def refuse_unexpected_body(request: Request[Any, Any, Any]) -> None:
    """An operation without a body parameter takes no body, or `{}`."""
    if request.method not in {"POST", "PUT", "PATCH", "DELETE"}:
        return
    raw = await request.body()
    if not raw.strip():
        return
    require_json_content_type(request)
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ProblemException(
            400, "malformed_json", f"the request body is not valid JSON: {exc}"
        ) from None
    if value != {}:
        raise ProblemException(
            422,
            "validation_error",
            "this operation takes no body: send none, or {}",
            [FieldProblem("body", "must be empty or {}")],
        )


class StrictInput:
    """A before-request hook; per handler, its strict body decoder and query names are
    worked out on first use and kept."""

    def __init__(self) -> None:
        self._decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
        self._queries: dict[HTTPRouteHandler, frozenset[str]] = {}

    def _decoder(self, annotation: Any) -> msgspec.json.Decoder[Any]:
        decoder = self._decoders.get(annotation)
        if decoder is None:
            decoder = self._decoders[annotation] = msgspec.json.Decoder(annotation, strict=True)
        return decoder

    def _query_names(self, handler: HTTPRouteHandler) -> frozenset[str]:
        names = self._queries.get(handler)
        if names is None:
            names = frozenset(
                getattr(field.kwarg_definition, "name", None) or name
                for name, field in handler.parsed_fn_signature.parameters.items()
                if isinstance(field.kwarg_definition, QueryParameter)
            )
            self._queries[handler] = names
        return names

    async def __call__(self, request: Request[Any, Any, Any]) -> None:
        handler = request.route_handler
        if request.scope["query_string"]:  # most requests have none: nothing to parse
            self._check_query(request, handler)
        data = handler.parsed_fn_signature.parameters.get("data")
        if data is None:
            await refuse_unexpected_body(request)
            return None
        raw = await request.body()
        if not raw.strip():
            raise ProblemException(400, "malformed_json", "the request body must be a JSON object")
        require_json_content_type(request)
        try:
            self._decoder(data.annotation).decode(raw)
        except msgspec.ValidationError as exc:
            problem = field_problem(exc)
            raise ProblemException(
                422, "validation_error", f"{problem.field}: {problem.message}", [problem]
            ) from None
        except msgspec.DecodeError as exc:
            raise ProblemException(
                400, "malformed_json", f"the request body is not valid JSON: {exc}"
            ) from None
        return None

    def _check_query(self, request: Request[Any, Any, Any], handler: HTTPRouteHandler) -> None:
        unknown = sorted(set(request.query_params) - self._query_names(handler))
        _refuse(unknown, "unknown query parameter", "is not a parameter of this operation")
        # Every parameter of this API is single-valued: which of two values would count?
        repeated = sorted(
            k for k in set(request.query_params) if len(request.query_params.getall(k)) > 1
        )
        _refuse(repeated, "query parameter given more than once", "must be given at most once")


def _refuse(names: list[str], title: str, problem: str) -> None:
    """422 naming each query parameter in `names` (none: nothing to refuse)."""
    if names:
        raise ProblemException(
            422,
            "validation_error",
            f"{title}: {', '.join(names)}",
            [FieldProblem(name, problem) for name in names],
        )
