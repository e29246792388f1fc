"""What a handler needs, from its request: `services_of(request)`.

`Services` holds the caller (`actor`), where blocking work runs (`offload`), the
app's `metrics`, and the use cases, each resolved from its container provider
when asked for, so overriding a provider (as tests do) takes effect on the next
request. (The correlation id is not among them: the request-context middleware
sets it for the whole request.)

It is not a Litestar dependency. Litestar resolves the independent dependencies
of a handler concurrently, in an anyio task group with a task each, which for
five cheap lookups cost more than the handler's own work (profiled); and even a
single dependency costs its signature model's validation of its arguments and
the resolution bookkeeping on every request: about 35,000 instructions of a GET
/v1/orders/{id} (`benchmarks/bench_app_instructions.py`, session 19). The
handlers take the request, which Litestar hands over as it is, and build their
`Services` from the factory `create_app` stores in the app's state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from litestar import Litestar, Request

from core.use_cases.catalog import CreateProduct, UpdateProduct
from core.use_cases.inventory import AdjustStock, SetStock
from core.use_cases.ordering import CancelOrder, PlaceOrder, ShipOrder
from core.use_cases.queries import OrderQueries, ProductQueries
from core.use_cases.support import Actor
from entrypoints.container import Container
from entrypoints.http.auth import actor_of
from entrypoints.http.metrics import AppMetrics
from entrypoints.http.offload import Offload

T = TypeVar("T")


class _FromContainer(Generic[T]):
    """A `Services` attribute read from the container provider of the same name when
    asked for (not cached: an overridden provider counts from the next access)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    def __get__(self, services: Services, owner: type | None = None) -> T:
        provide: Callable[[], T] = getattr(services._container, self._name)
        return provide()


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

    # Use cases and queries, from the container on each request.
    create_product: _FromContainer[CreateProduct] = _FromContainer()
    update_product: _FromContainer[UpdateProduct] = _FromContainer()
    set_stock: _FromContainer[SetStock] = _FromContainer()
    adjust_stock: _FromContainer[AdjustStock] = _FromContainer()
    place_order: _FromContainer[PlaceOrder] = _FromContainer()
    cancel_order: _FromContainer[CancelOrder] = _FromContainer()
    ship_order: _FromContainer[ShipOrder] = _FromContainer()
    product_queries: _FromContainer[ProductQueries] = _FromContainer()
    order_queries: _FromContainer[OrderQueries] = _FromContainer()


_STATE_KEY = "orderly_services"


def provide_services(
    app: Litestar, container: Container, offload: Offload, metrics: AppMetrics
) -> None:
    """Make `services_of` work for the requests of `app`."""

    def services(request: Request[Any, Any, Any]) -> Services:
        return Services(request, container, offload, metrics)

    app.state[_STATE_KEY] = services


def services_of(request: Request[Any, Any, Any]) -> Services:
    """This request's services (see the module docstring)."""
    make: Callable[[Request[Any, Any, Any]], Services] = request.app.state[_STATE_KEY]
    return make(request)
