"""Query, path and header parameters shared by the controllers, with their constraints."""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter

from core.domain.catalog import SKU_PATTERN, SKU_RULE
from core.domain.idempotency import KEY_MAX
from core.domain.limits import MAX_ID_LENGTH
from core.domain.orders import OrderStatus
from core.use_cases.support import MAX_PAGE
from entrypoints.http.header_params import HeaderParam

SkuPath = Annotated[str, PathParameter(pattern=SKU_PATTERN.pattern, description=SKU_RULE)]
OrderIdPath = Annotated[
    str, PathParameter(min_length=1, max_length=MAX_ID_LENGTH, description="An order id")
]
IdPath = Annotated[str, PathParameter(min_length=1, max_length=MAX_ID_LENGTH, description="An id")]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description=f"Page size, 1-{MAX_PAGE}")]
# Longer than any cursor the service issues; a cap so a forged one is refused unread.
Cursor = Annotated[
    str | None,
    QueryParameter(
        min_length=1, max_length=512, description="Opaque: the `next_cursor` of the previous page"
    ),
]
ActiveFilter = Annotated[
    bool | None, QueryParameter(description="Only active (true) or inactive (false) products")
]
StatusFilter = Annotated[OrderStatus | None, QueryParameter(description="Only this status")]
CustomerFilter = Annotated[
    str | None,
    QueryParameter(max_length=MAX_ID_LENGTH, description="Admins only: one customer's orders"),
]
# Headers are read from the scope in the handler, not declared (header_params.py says why).
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY = HeaderParam(
    IDEMPOTENCY_HEADER,
    f"1-{KEY_MAX} visible ASCII characters; a retry with the same key and body "
    "replays the first response (kept at least 24 hours)",
    max_length=KEY_MAX,
    min_length=1,
    pattern="^[!-~]+$",
)
IF_NONE_MATCH = HeaderParam("If-None-Match", "ETags from previous reads", max_length=1024)
IF_MATCH = HeaderParam(
    "If-Match",
    "Cancel only if the order still has this ETag (412 otherwise)",
    max_length=1024,
)
