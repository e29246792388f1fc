"""Query, path and header parameters shared by the controllers, with their constraints."""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter, PathParameter, QueryParameter

from entrypoints.http.schemas import SKU_PATTERN, OrderStatusName

SkuPath = Annotated[
    str,
    PathParameter(
        pattern=SKU_PATTERN,
        description="2-32 characters of A-Z, 0-9 and '-', starting with a letter or digit",
    ),
]
OrderIdPath = Annotated[str, PathParameter(min_length=1, max_length=64, description="An order id")]
Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size, 1-100")]
Cursor = Annotated[
    str | None,
    QueryParameter(
        min_length=1, max_length=512, description="Opaque: the `next_cursor` of the previous page"
    ),
]
ActiveFilter = Annotated[
    bool | None, QueryParameter(description="Only active (true) or inactive (false) products")
]
StatusFilter = Annotated[OrderStatusName | None, QueryParameter(description="Only this status")]
CustomerFilter = Annotated[
    str | None,
    QueryParameter(max_length=64, description="Admins only: one customer's orders"),
]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern="^[!-~]+$",
        description="1-255 visible ASCII characters; a retry with the same key and body "
        "replays the first response (kept at least 24 hours)",
    ),
]
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(name="If-None-Match", max_length=1024, description="ETags from previous reads"),
]
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        max_length=1024,
        description="Cancel only if the order still has this ETag (412 otherwise)",
    ),
]
