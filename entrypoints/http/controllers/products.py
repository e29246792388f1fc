"""/v1/products: the catalogue."""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar import Controller, Request, Response
from litestar.datastructures import ResponseHeader
from litestar.params import JSONBody

from core.use_cases.catalog import (
    CreateProductCommand,
    UpdateProductCommand,
)
from entrypoints.http.auth import admin_only
from entrypoints.http.controllers.params import ActiveFilter, Cursor, Limit, SkuPath
from entrypoints.http.dependencies import services_of
from entrypoints.http.handlers import get, patch, post
from entrypoints.http.openapi_docs import operation
from entrypoints.http.openapi_links import CREATED_PRODUCT
from entrypoints.http.schemas import CreateProductIn, ProductOut, ProductPage, UpdateProductIn

ONE = "/{sku:str}"


class ProductController(Controller):
    path = "/products"
    tags = ["products"]

    @operation(
        post, "/", "createProduct", "Create a product", 400, 403, 409, 413, 422,
        guards=[admin_only],
        status_code=201,
        operation_class=CREATED_PRODUCT,
        response_headers=[
            ResponseHeader(name="Location", documentation_only=True, description="The product")
        ],
    )  # fmt: skip
    async def create(
        self,
        data: JSONBody[CreateProductIn],
        request: Request[Any, Any, Any],
    ) -> Response[ProductOut]:
        """Create a product (admin); 409 if the SKU exists. `on_hand` sets its initial stock."""
        services = services_of(request)
        command = CreateProductCommand(data.sku, data.name, data.price, data.active, data.on_hand)
        product = ProductOut.of(
            await services.offload.write(partial(services.create_product, command))
        )
        return Response(
            product, status_code=201, headers={"Location": f"/v1/products/{product.sku}"}
        )

    @operation(get, "/", "listProducts", "List products", 422)
    async def list_products(
        self,
        request: Request[Any, Any, Any],
        active: ActiveFilter = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> ProductPage:
        """Products by SKU, optionally only active or inactive ones, paginated."""
        services = services_of(request)
        queries = services.product_queries
        page = await services.offload.read(lambda: queries.page(active, limit, cursor))
        return ProductPage([ProductOut.of(v) for v in page.items], page.next_cursor)

    @operation(get, ONE, "getProduct", "Get a product", 404, 422)
    async def get_product(self, sku: SkuPath, request: Request[Any, Any, Any]) -> ProductOut:
        """One product, with its `available` stock."""
        services = services_of(request)
        queries = services.product_queries
        return ProductOut.of(await services.offload.read(lambda: queries.get(sku)))

    @operation(
        patch, ONE, "updateProduct", "Change a product", 400, 403, 404, 413, 422,
        guards=[admin_only],
    )  # fmt: skip
    async def update(
        self,
        sku: SkuPath,
        data: JSONBody[UpdateProductIn],
        request: Request[Any, Any, Any],
    ) -> ProductOut:
        """Change `name`, `price` and/or `active` (admin). Placed orders keep their prices."""
        services = services_of(request)
        command = UpdateProductCommand(sku, data.name, data.price, data.active)
        result = await services.offload.write(partial(services.update_product, command))
        return ProductOut.of(result.value)
