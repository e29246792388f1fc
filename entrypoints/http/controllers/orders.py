"""/v1/orders: placing orders and following them."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody

from core.domain.orders import RequestedLine
from core.ports.queries import OrderView
from core.use_cases.ordering import (
    CancelOrder,
    CancelOrderCommand,
    PlaceOrder,
    PlaceOrderCommand,
    ShipOrder,
    ShipOrderCommand,
)
from core.use_cases.queries import OrderQueries
from core.use_cases.support import Actor
from entrypoints.http.auth import admin_only, customer_only
from entrypoints.http.controllers.params import (
    Cursor,
    CustomerFilter,
    IdempotencyKey,
    IfMatch,
    IfNoneMatch,
    Limit,
    OrderIdPath,
    StatusFilter,
)
from entrypoints.http.etags import etag, expected_version, none_match
from entrypoints.http.metrics import AppMetrics
from entrypoints.http.openapi_docs import SECURITY, problems
from entrypoints.http.schemas import EventList, EventOut, OrderOut, OrderPage, PlaceOrderIn

ORDER_HEADERS = [
    ResponseHeader(name="ETag", documentation_only=True, description="The order's version"),
]


def _order_response(view: OrderView, status: int = 200, **headers: str) -> Response[OrderOut]:
    return Response(
        OrderOut.of(view),
        status_code=status,
        headers={"ETag": etag(view.version), "Cache-Control": "private, no-cache", **headers},
    )


class OrderController(Controller):
    path = "/orders"
    tags = ["orders"]
    security = SECURITY

    @post(
        "/",
        guards=[customer_only],
        sync_to_thread=True,
        status_code=201,
        operation_id="placeOrder",
        summary="Place an order",
        responses=problems(400, 403, 409, 413, 422),
        response_headers=[
            *ORDER_HEADERS,
            ResponseHeader(name="Location", documentation_only=True, description="The order"),
            ResponseHeader(
                name="Idempotent-Replayed",
                documentation_only=True,
                description="`true` when this is the stored response of an earlier request",
            ),
        ],
    )
    def place(
        self,
        data: JSONBody[PlaceOrderIn],
        actor: NamedDependency[Actor],
        place_order: NamedDependency[PlaceOrder],
        metrics: NamedDependency[AppMetrics],
        correlation_id: NamedDependency[str | None],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[OrderOut]:
        """Place an order (customer): every line is reserved, or nothing is.
        409 `insufficient_stock` with `shortages`; 422 for an unknown or inactive SKU or a
        repeated SKU; 422 `idempotency_key_reused` for a known key with another body."""
        result = place_order(
            PlaceOrderCommand(
                customer_id=actor.principal_id,
                lines=[RequestedLine(ln.sku, ln.quantity) for ln in data.lines],
                idempotency_key=idempotency_key,
            ),
            correlation_id,
        )
        headers = {"Location": f"/v1/orders/{result.order.id}"}
        if result.replayed:
            headers["Idempotent-Replayed"] = "true"
        else:
            metrics.orders_placed.inc()
        return _order_response(result.order, 201, **headers)

    @get(
        "/",
        sync_to_thread=True,
        operation_id="listOrders",
        summary="List orders",
        responses=problems(422),
    )
    def list_orders(
        self,
        actor: NamedDependency[Actor],
        order_queries: NamedDependency[OrderQueries],
        status: StatusFilter = None,
        customer_id: CustomerFilter = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> OrderPage:
        """Orders newest first: a customer's own, or (admin) everyone's. Paginated."""
        page = order_queries.page(actor, status, customer_id, limit, cursor)
        return OrderPage([OrderOut.of(v) for v in page.items], page.next_cursor)

    @get(
        "/{order_id:str}",
        sync_to_thread=True,
        operation_id="getOrder",
        summary="Get an order",
        responses={
            304: ResponseSpec(None, description="Not modified (If-None-Match matched)"),
            **problems(404, 422),
        },
        response_headers=ORDER_HEADERS,
    )
    def get_order(
        self,
        order_id: OrderIdPath,
        actor: NamedDependency[Actor],
        order_queries: NamedDependency[OrderQueries],
        if_none_match: IfNoneMatch = None,
    ) -> Response[OrderOut]:
        """One order (owner or admin) with a strong ETag; If-None-Match gives 304."""
        view = order_queries.get(order_id, actor)
        if none_match(if_none_match, view.version):
            return Response(
                None,  # type: ignore[arg-type]
                status_code=304,
                headers={"ETag": etag(view.version), "Cache-Control": "private, no-cache"},
            )
        return _order_response(view)

    @post(
        "/{order_id:str}/cancel",
        sync_to_thread=True,
        status_code=200,
        operation_id="cancelOrder",
        summary="Cancel an order",
        responses=problems(404, 409, 412, 422),
        response_headers=ORDER_HEADERS,
    )
    def cancel(
        self,
        order_id: OrderIdPath,
        actor: NamedDependency[Actor],
        cancel_order: NamedDependency[CancelOrder],
        order_queries: NamedDependency[OrderQueries],
        correlation_id: NamedDependency[str | None],
        if_match: IfMatch = None,
    ) -> Response[OrderOut]:
        """Cancel (owner or admin): stock is released and a paid order refunded. Cancelling
        a cancelled order is a no-op; a shipped one is 409. If-Match is honoured (412)."""
        expected = expected_version(if_match, lambda: order_queries.get(order_id, actor).version)
        view = cancel_order(CancelOrderCommand(order_id, actor, expected), correlation_id)
        return _order_response(view)

    @post(
        "/{order_id:str}/ship",
        guards=[admin_only],
        sync_to_thread=True,
        status_code=200,
        operation_id="shipOrder",
        summary="Ship an order",
        responses=problems(403, 404, 409, 422),
        response_headers=ORDER_HEADERS,
    )
    def ship(
        self,
        order_id: OrderIdPath,
        actor: NamedDependency[Actor],
        ship_order: NamedDependency[ShipOrder],
        correlation_id: NamedDependency[str | None],
    ) -> Response[OrderOut]:
        """Ship a paid order (admin); shipping a shipped order is a no-op, others are 409."""
        return _order_response(ship_order(ShipOrderCommand(order_id, actor), correlation_id))

    @get(
        "/{order_id:str}/events",
        sync_to_thread=True,
        operation_id="listOrderEvents",
        summary="An order's events",
        responses=problems(404, 422),
    )
    def events(
        self,
        order_id: OrderIdPath,
        actor: NamedDependency[Actor],
        order_queries: NamedDependency[OrderQueries],
    ) -> EventList:
        """The order's event history (owner or admin), oldest first."""
        return EventList([EventOut.of(e) for e in order_queries.events(order_id, actor)])
