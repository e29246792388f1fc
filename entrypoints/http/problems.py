"""Every refusal as RFC 9457 problem+json with a stable snake_case `code`.

Domain errors map by class; Litestar's own HTTP exceptions (404, 405, 413, 429,
parameter validation) are rewritten into the same shape, and anything else is a
logged 500 that never leaks a traceback. Why not Litestar's problem-details plugin:
docs/api.md (Conventions).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from core.domain.errors import (
    AlreadyExists,
    AuthenticationFailed,
    Conflict,
    DomainError,
    FieldProblem,
    InsufficientStock,
    NotFound,
    PermissionDenied,
    ValidationError,
    VersionMismatch,
)
from core.ports.errors import ConcurrencyConflict, DependencyUnavailable, DuplicateIdempotencyKey
from entrypoints.http.controllers.params import IDEMPOTENCY_HEADER
from entrypoints.http.request_context import request_id_of
from entrypoints.http.schemas import FieldError, Problem, ShortageOut

MEDIA_TYPE = "application/problem+json"
log = structlog.get_logger("orderly.http")

# Status of each domain error family; the most specific class in the MRO wins.
_DOMAIN_STATUS: list[tuple[type[DomainError], int]] = [
    (VersionMismatch, 412),
    (InsufficientStock, 409),
    (AlreadyExists, 409),
    (Conflict, 409),
    (NotFound, 404),
    (PermissionDenied, 403),
    (AuthenticationFailed, 401),
    (ValidationError, 422),
]

# Codes for Litestar's HTTP exceptions, by status.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}

_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")

# Command fields that HTTP carries in a header: a problem names the header the client
# sent, as for Litestar's own parameter errors (`_wire_name`); the core names its field.
_HEADER_FIELDS = {"idempotency_key": IDEMPOTENCY_HEADER}


class ProblemException(HTTPException):
    """An HTTP-layer refusal raised by our own code with a chosen code and field errors."""

    def __init__(
        self,
        status_code: int,
        code: str,
        detail: str,
        errors: Iterable[FieldProblem] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=detail, status_code=status_code, headers=headers)
        self.code = code
        self.errors = list(errors)


def problem_type(code: str) -> str:
    """A URN, so the type is stable without promising a page to dereference."""
    return f"urn:orderly:problem:{code}"


def problem_response(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    detail: str,
    *,
    errors: Iterable[FieldProblem] = (),
    shortages: list[ShortageOut] | None = None,
    dependency: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    field_errors = [FieldError(p.field, p.message) for p in errors]
    body = Problem(
        type=problem_type(code),
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        code=code,
        instance=request.url.path,
        request_id=request_id_of(request.scope),
        errors=field_errors or None,
        shortages=shortages,
        dependency=dependency,
    )
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _domain_status(exc: DomainError) -> int:
    for cls, status in _DOMAIN_STATUS:
        if isinstance(exc, cls):
            return status
    return 422


def _domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Problem]:
    status = _domain_status(exc)
    errors = [
        FieldProblem(_HEADER_FIELDS.get(p.field, p.field), p.message)
        for p in (exc.errors if isinstance(exc, ValidationError) else [])
    ]
    shortages = None
    if isinstance(exc, InsufficientStock):
        shortages = [ShortageOut(s.sku, s.requested, s.available) for s in exc.shortages]
    headers = {"WWW-Authenticate": 'Bearer realm="orderly"'} if status == 401 else None
    code = exc.code if _SNAKE.match(exc.code) else "domain_error"
    return problem_response(
        request, status, code, exc.detail, errors=errors, shortages=shortages, headers=headers
    )


def _wire_name(request: Request[Any, Any, Any], key: str) -> str:
    """The name the client used (`Idempotency-Key`), not the Python parameter's."""
    try:
        parameter = request.route_handler.parsed_fn_signature.parameters.get(key)
    except Exception:  # no route (never here for parameter errors, but stay safe)
        return key
    name = getattr(getattr(parameter, "kwarg_definition", None), "name", None)
    return name if isinstance(name, str) and name else key


def _validation_problems(request: Request[Any, Any, Any], extra: Any) -> list[FieldProblem]:
    """Litestar's parameter errors ({key, message, source}) as {field, message}."""
    problems = []
    for item in extra if isinstance(extra, list) else []:
        if isinstance(item, dict):
            key = str(item.get("key") or item.get("source") or "request")
            message = str(item.get("message", "is invalid")).replace("`", "")
            problems.append(FieldProblem(_wire_name(request, key), message))
    return problems


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    if isinstance(exc, ProblemException):
        return problem_response(
            request, exc.status_code, exc.code, exc.detail, errors=exc.errors, headers=exc.headers
        )
    headers = dict(exc.headers or {})
    if isinstance(exc, ValidationException):
        # A query, path or header parameter broke its declared schema.
        return problem_response(
            request,
            422,
            "validation_error",
            "the request parameters are invalid",
            errors=_validation_problems(request, exc.extra),
        )
    status = exc.status_code
    if status == 429:
        reset = headers.get("RateLimit-Reset", "60")
        headers["Retry-After"] = str(max(1, int(reset))) if reset.isdigit() else "60"
        detail = "too many requests for this API key; retry after the given delay"
    elif status == 404:
        detail = f"no resource at {request.url.path}"
    elif status == 405:
        allowed = headers.get("allow", "")
        detail = f"{request.method} is not allowed here; allowed: {allowed}"
    elif status == 413:
        detail = "the request body is larger than 64 KiB"
    else:
        detail = exc.detail
    if status >= 500:
        log.error("http_error", status=status, detail=exc.detail)
        detail = HTTPStatus(status).phrase
    code = _HTTP_CODES.get(status, "bad_request" if status < 500 else "internal_error")
    return problem_response(request, status, code, detail, headers=headers or None)


def _dependency_down(
    request: Request[Any, Any, Any], exc: DependencyUnavailable
) -> Response[Problem]:
    log.warning("dependency_unavailable", dependency=exc.dependency, detail=exc.detail)
    return problem_response(
        request,
        503,
        "dependency_unavailable",
        f"{exc.dependency} is unavailable; try again shortly",
        dependency=exc.dependency,
        headers={"Retry-After": "5"},
    )


def _contention(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    # The use case already retried; the caller may simply try again.
    return problem_response(
        request,
        409,
        "concurrency_conflict",
        "the resource changed concurrently too often; retry the request",
        headers={"Retry-After": "1"},
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    log.exception("unhandled_error", error_type=type(exc).__name__)
    return problem_response(
        request, 500, "internal_error", "an unexpected error occurred; it has been logged"
    )


ExceptionHandler = Callable[[Request[Any, Any, Any], Any], Response[Any]]


def exception_handlers() -> dict[type[Exception] | int, ExceptionHandler]:
    return {
        DomainError: _domain_error,
        HTTPException: _http_error,
        DependencyUnavailable: _dependency_down,
        ConcurrencyConflict: _contention,
        DuplicateIdempotencyKey: _contention,
        Exception: _unexpected,
    }
