"""The OpenAPI document and the docs page at /schema, served with no internet.

The page is Swagger UI 5 (it renders OpenAPI 3.1, which Litestar emits). Its
JS and CSS come from the `swagger-ui-py` package, which ships the Swagger UI
dist files inside the wheel; Orderly serves them itself under /schema/assets,
and Litestar's render plugin points at those URLs instead of a CDN.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme, Tag
from litestar.router import Router
from litestar.static_files import create_static_files_router

from entrypoints.http.schemas import Problem

ASSETS = "/schema/assets"
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]

DESCRIPTION = """\
Orderly's REST API (version 1). Every path under `/v1` needs
`Authorization: Bearer <api key>` (create one with `orderly users create NAME --role R`).

Errors are `application/problem+json` (RFC 9457) with a snake_case `code`;
validation errors add `errors: [{field, message}]`, stock errors add
`shortages: [{sku, requested, available}]`. Lists are paginated with `limit`
(1-100, default 20) and an opaque `cursor`; `next_cursor` is null on the last page.

Choices where the specification is silent: request bodies are decoded strictly
and unknown fields are refused (422); prices are at most 10^12 minor units and
stock quantities at most 10^9; a stock adjustment answers 200 with the stock
after it; an order's `ETag` is its version (`"3"`); the rate limit is counted per
API key and per serving process; an idempotent placement that failed (409, 422)
stores nothing, so the same key may be retried after restocking.
"""


class ClosedStructSchemaPlugin(StructSchemaPlugin):
    """Request structs that refuse unknown fields are documented as closed objects
    (`additionalProperties: false`). Litestar's own struct plugin does the rest; its
    module is private, so a test checks the closed schemas in the served document."""

    def is_plugin_supported_field(self, field_definition: Any) -> bool:
        if not super().is_plugin_supported_field(field_definition):
            return False
        info = msgspec.inspect.type_info(field_definition.type_)
        return bool(getattr(info, "forbid_unknown_fields", False))

    def to_openapi_schema(self, field_definition: Any, schema_creator: Any) -> Any:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        schema.additional_properties = False
        return schema


def swagger_assets_dir() -> Path:
    return Path(str(files("swagger_ui") / "static"))


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Orderly",
        version="1",
        description=DESCRIPTION,
        path="/schema",
        render_plugins=[
            SwaggerRenderPlugin(
                path="/",
                js_url=f"{ASSETS}/swagger-ui-bundle.js",
                css_url=f"{ASSETS}/swagger-ui.css",
                standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
                favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
            )
        ],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http", scheme="bearer", description="An Orderly API key"
                )
            }
        ),
        tags=[
            Tag(name="products", description="The catalogue (admins change it)"),
            Tag(name="stock", description="Stock levels (admins only)"),
            Tag(name="orders", description="Placing and following orders"),
            Tag(name="operations", description="Health and metrics, no authentication"),
        ],
        create_examples=False,
        use_handler_docstrings=True,
    )


def assets_router() -> Router:
    return create_static_files_router(
        path=ASSETS,
        directories=[swagger_assets_dir()],
        include_in_schema=False,
        send_as_attachment=False,
    )


_DESCRIPTIONS = {
    400: "Malformed JSON or an empty body",
    401: "Missing, unknown or revoked API key",
    403: "The caller's role may not do this",
    404: "No such resource (another customer's order is reported as missing)",
    409: "Conflicts with the current state",
    412: "If-Match does not match the order's current ETag",
    413: "Request body over 64 KiB",
    415: "A request body sent with a Content-Type other than application/json",
    422: "The input breaks the schema or a domain rule",
    429: "Too many requests for this API key (see Retry-After)",
    503: "A dependency (database, broker) is down",
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Problem+json responses of an operation; any /v1 one may answer 400, 401, 415, 422, 429,
    503 (415: a body that is not JSON, even to an operation that takes none)."""
    wanted = sorted({*statuses, 400, 401, 415, 422, 429, 503})
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS[status],
            media_type="application/problem+json",
            generate_examples=False,
        )
        for status in wanted
    }


def operation(
    method: Callable[..., HTTPRouteHandler],
    path: str,
    operation_id: str,
    summary: str,
    *statuses: int,
    responses: dict[int, ResponseSpec] | None = None,
    **options: Any,
) -> HTTPRouteHandler:
    """A documented /v1 operation: `method` (get, post, ...) at `path` with its id, summary
    and problem responses (`statuses` plus the ones every operation may answer);
    `responses` adds the others it documents (304, say)."""
    return method(
        path,
        operation_id=operation_id,
        summary=summary,
        responses={**(responses or {}), **problems(*statuses)},
        **options,
    )
