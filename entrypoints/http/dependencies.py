"""What a handler needs, resolved per request as one Litestar dependency.

Litestar resolves the dependencies of a handler that are independent of each
other concurrently, in an anyio task group with a task each; for five cheap
lookups that cost more than the handler's own work (profiled). So every /v1
handler takes a single `services` dependency: the caller (`actor`), where
blocking work runs (`offload`), the app's `metrics`, and the use cases, each
resolved from its container provider when first asked for, so overriding a
provider (as tests do) takes effect on the next request. (The correlation id is
not among them: the request-context middleware sets it for the whole request.)
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import Provide

from core.use_cases.catalog import CreateProduct, UpdateProduct
from core.use_cases.inventory import AdjustStock, SetStock
from core.use_cases.ordering import CancelOrder, PlaceOrder, ShipOrder
from core.use_cases.queries import OrderQueries, ProductQueries
from core.use_cases.support import Actor
from entrypoints.container import Container
from entrypoints.http.auth import actor_of
from entrypoints.http.metrics import AppMetrics
from entrypoints.http.offload import Offload


class Services:
    def __init__(
        self,
        request: Request[Any, Any, Any],
        container: Container,
        offload: Offload,
        metrics: AppMetrics,
    ) -> None:
        self._request = request
        self._container = container
        self.offload = offload
        self.metrics = metrics

    @property
    def actor(self) -> Actor:
        return actor_of(self._request)

    # Use cases, from the container on each request.
    @property
    def create_product(self) -> CreateProduct:
        return self._container.create_product()

    @property
    def update_product(self) -> UpdateProduct:
        return self._container.update_product()

    @property
    def set_stock(self) -> SetStock:
        return self._container.set_stock()

    @property
    def adjust_stock(self) -> AdjustStock:
        return self._container.adjust_stock()

    @property
    def place_order(self) -> PlaceOrder:
        return self._container.place_order()

    @property
    def cancel_order(self) -> CancelOrder:
        return self._container.cancel_order()

    @property
    def ship_order(self) -> ShipOrder:
        return self._container.ship_order()

    @property
    def product_queries(self) -> ProductQueries:
        return self._container.product_queries()

    @property
    def order_queries(self) -> OrderQueries:
        return self._container.order_queries()


def dependencies(container: Container, offload: Offload, metrics: AppMetrics) -> dict[str, Provide]:
    def services(request: Request[Any, Any, Any]) -> Services:
        return Services(request, container, offload, metrics)

    return {"services": Provide(services, sync_to_thread=False)}
