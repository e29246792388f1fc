"""OpenAPI links: which operation a response leads to, and with which values.

A client (or a generated one) learns from them that a created product can be
fetched, stocked and ordered, and that a placed order can be fetched, cancelled,
shipped and followed; the stateful fuzz test (tests/e2e/test_http_fuzz.py) walks
exactly these chains. Litestar has no parameter for links, so a handler names an
`operation_class` that adds them to its documented responses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar.openapi.spec import Link, OpenAPIResponse, Operation


def _with_links(status: str, links: dict[str, Link]) -> type[Operation]:
    @dataclass
    class Linked(Operation):
        def __post_init__(self) -> None:
            response = (self.responses or {}).get(status)
            if isinstance(response, OpenAPIResponse):
                response.links = {**(response.links or {}), **links}

    return Linked


def _follow(operation_id: str, **parameters: str) -> Link:
    return Link(operation_id=operation_id, parameters=dict(parameters))


@dataclass
class WholeBodyLink(Link):
    """A link whose `requestBody` is the whole request. Schemathesis otherwise merges it
    into a generated body, and the order of one unit gains random lines (unknown SKUs)."""

    x_schemathesis: dict[str, Any] = field(
        default_factory=lambda: {"merge_body": False}, metadata={"alias": "x-schemathesis"}
    )


_SKU = "$response.body#/sku"
_ORDER_ID = "$response.body#/id"
_ONE_OF_IT: dict[str, Any] = {"lines": [{"sku": _SKU, "quantity": 1}]}

CREATED_PRODUCT = _with_links(
    "201",
    {
        "GetProduct": _follow("getProduct", sku=_SKU),
        "GetStock": _follow("getStock", sku=_SKU),
        "AdjustStock": _follow("adjustStock", sku=_SKU),
        "PlaceOrder": WholeBodyLink(
            operation_id="placeOrder",
            request_body=_ONE_OF_IT,
            description="An order of one unit of the new product",
        ),
    },
)

PLACED_ORDER = _with_links(
    "201",
    {
        "GetOrder": _follow("getOrder", order_id=_ORDER_ID),
        "ListOrderEvents": _follow("listOrderEvents", order_id=_ORDER_ID),
        "CancelOrder": _follow("cancelOrder", order_id=_ORDER_ID),
        "ShipOrder": _follow("shipOrder", order_id=_ORDER_ID),
    },
)
