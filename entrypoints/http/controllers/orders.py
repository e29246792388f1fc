"""/v1/orders: placing orders and following them."""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar import Controller, Request, Response
from litestar.datastructures import ResponseHeader
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody

from core.domain.orders import RequestedLine
from core.ports.queries import OrderView
from core.use_cases.ordering import (
    CancelOrderCommand,
    PlaceOrderCommand,
    ShipOrderCommand,
)
from entrypoints.http.auth import admin_only, customer_only
from entrypoints.http.controllers.params import (
    IDEMPOTENCY_KEY,
    IF_MATCH,
    IF_NONE_MATCH,
    Cursor,
    CustomerFilter,
    Limit,
    OrderIdPath,
    StatusFilter,
)
from entrypoints.http.dependencies import services_of
from entrypoints.http.etags import etag, expected_version, none_match
from entrypoints.http.handlers import get, post
from entrypoints.http.header_params import documented
from entrypoints.http.json_response import JsonResponse
from entrypoints.http.openapi_docs import operation
from entrypoints.http.openapi_links import PLACED_ORDER
from entrypoints.http.schemas import EventList, EventOut, OrderOut, OrderPage, PlaceOrderIn

ONE = "/{order_id:str}"
ORDER_HEADERS = [
    ResponseHeader(name="ETag", documentation_only=True, description="The order's version"),
]


def _order_response(view: OrderView, status: int = 200, **headers: str) -> Response[OrderOut]:
    return JsonResponse(
        OrderOut.of(view),
        status_code=status,
        headers={"ETag": etag(view.version), "Cache-Control": "private, no-cache", **headers},
    )


class OrderController(Controller):
    path = "/orders"
    tags = ["orders"]

    @operation(
        post, "/", "placeOrder", "Place an order", 400, 403, 409, 413, 422,
        guards=[customer_only],
        status_code=201,
        operation_class=documented(IDEMPOTENCY_KEY, base=PLACED_ORDER),
        response_headers=[
            *ORDER_HEADERS,
            ResponseHeader(name="Location", documentation_only=True, description="The order"),
            ResponseHeader(
                name="Idempotent-Replayed",
                documentation_only=True,
                description="`true` when this is the stored response of an earlier request",
            ),
        ],
    )  # fmt: skip
    async def place(
        self,
        data: JSONBody[PlaceOrderIn],
        request: Request[Any, Any, Any],
    ) -> Response[OrderOut]:
        """Place an order (customer): every line is reserved, or nothing is.
        409 `insufficient_stock` with `shortages`; 422 for an unknown or inactive SKU or a
        repeated SKU; 422 `idempotency_key_reused` for a known key with another body."""
        services = services_of(request)
        idempotency_key = IDEMPOTENCY_KEY.read(request)
        command = PlaceOrderCommand(
            customer_id=services.actor.principal_id,
            lines=[RequestedLine(ln.sku, ln.quantity) for ln in data.lines],
            idempotency_key=idempotency_key,
        )
        result = await services.offload.place(partial(services.place_order, command))
        headers = {"Location": f"/v1/orders/{result.order.id}"}
        if result.replayed:
            headers["Idempotent-Replayed"] = "true"
        else:
            services.metrics.orders_placed.inc()
        return _order_response(result.order, 201, **headers)

    @operation(get, "/", "listOrders", "List orders", 422)
    async def list_orders(
        self,
        request: Request[Any, Any, Any],
        status: StatusFilter = None,
        customer_id: CustomerFilter = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> OrderPage:
        """Orders newest first: a customer's own, or (admin) everyone's. Paginated."""
        services = services_of(request)
        queries, actor = services.order_queries, services.actor
        page = await services.offload.read(
            lambda: queries.page(actor, status, customer_id, limit, cursor)
        )
        return OrderPage([OrderOut.of(v) for v in page.items], page.next_cursor)

    @operation(
        get, ONE, "getOrder", "Get an order", 404, 422,
        responses={304: ResponseSpec(None, description="Not modified (If-None-Match matched)")},
        response_headers=ORDER_HEADERS,
        operation_class=documented(IF_NONE_MATCH),
    )  # fmt: skip
    async def get_order(
        self,
        order_id: OrderIdPath,
        request: Request[Any, Any, Any],
    ) -> Response[OrderOut]:
        """One order (owner or admin) with a strong ETag; If-None-Match gives 304."""
        services = services_of(request)
        if_none_match = IF_NONE_MATCH.read(request)
        queries, actor = services.order_queries, services.actor
        view = await services.offload.read(lambda: queries.get(order_id, actor))
        if none_match(if_none_match, view.version):
            return Response(
                None,  # type: ignore[arg-type]
                status_code=304,
                headers={"ETag": etag(view.version), "Cache-Control": "private, no-cache"},
            )
        return _order_response(view)

    @operation(
        post, f"{ONE}/cancel", "cancelOrder", "Cancel an order", 404, 409, 412, 422,
        status_code=200,
        response_headers=ORDER_HEADERS,
        operation_class=documented(IF_MATCH),
    )  # fmt: skip
    async def cancel(
        self,
        order_id: OrderIdPath,
        request: Request[Any, Any, Any],
    ) -> Response[OrderOut]:
        """Cancel (owner or admin): stock is released and a paid order refunded. Cancelling
        a cancelled order is a no-op; a shipped one is 409. If-Match is honoured (412)."""
        services = services_of(request)
        if_match = IF_MATCH.read(request)
        actor, queries = services.actor, services.order_queries
        cancel_order = services.cancel_order

        def cancel_now() -> OrderView:
            expected = expected_version(if_match, lambda: queries.get(order_id, actor).version)
            command = CancelOrderCommand(order_id, actor, expected)
            return cancel_order(command).value

        return _order_response(await services.offload.write(cancel_now))

    @operation(
        post, f"{ONE}/ship", "shipOrder", "Ship an order", 403, 404, 409, 422,
        guards=[admin_only],
        status_code=200,
        response_headers=ORDER_HEADERS,
    )  # fmt: skip
    async def ship(
        self,
        order_id: OrderIdPath,
        request: Request[Any, Any, Any],
    ) -> Response[OrderOut]:
        """Ship a paid order (admin); shipping a shipped order is a no-op, others are 409."""
        services = services_of(request)
        command = ShipOrderCommand(order_id, services.actor)
        result = await services.offload.write(partial(services.ship_order, command))
        return _order_response(result.value)

    @operation(get, f"{ONE}/events", "listOrderEvents", "An order's events", 404, 422)
    async def events(
        self,
        order_id: OrderIdPath,
        request: Request[Any, Any, Any],
    ) -> EventList:
        """The order's event history (owner or admin), oldest first."""
        services = services_of(request)
        queries, actor = services.order_queries, services.actor
        events = await services.offload.read(lambda: queries.events(order_id, actor))
        return EventList([EventOut.of(e) for e in events])
