"""/v1/products: the catalogue."""

from __future__ import annotations

from litestar import Controller, Response, get, patch, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import JSONBody

from core.use_cases.catalog import (
    CreateProduct,
    CreateProductCommand,
    UpdateProduct,
    UpdateProductCommand,
)
from core.use_cases.queries import ProductQueries
from entrypoints.http.auth import admin_only
from entrypoints.http.controllers.params import ActiveFilter, Cursor, Limit, SkuPath
from entrypoints.http.openapi_docs import SECURITY, problems
from entrypoints.http.schemas import CreateProductIn, ProductOut, ProductPage, UpdateProductIn


class ProductController(Controller):
    path = "/products"
    tags = ["products"]
    security = SECURITY

    @post(
        "/",
        guards=[admin_only],
        sync_to_thread=True,
        status_code=201,
        operation_id="createProduct",
        summary="Create a product",
        responses=problems(400, 403, 409, 413, 422),
        response_headers=[
            ResponseHeader(name="Location", documentation_only=True, description="The product")
        ],
    )
    def create(
        self,
        data: JSONBody[CreateProductIn],
        create_product: NamedDependency[CreateProduct],
        product_queries: NamedDependency[ProductQueries],
        correlation_id: NamedDependency[str | None],
    ) -> Response[ProductOut]:
        """Create a product (admin); 409 if the SKU exists. `on_hand` sets its initial stock."""
        create_product(
            CreateProductCommand(data.sku, data.name, data.price, data.active, data.on_hand),
            correlation_id,
        )
        product = ProductOut.of(product_queries.get(data.sku))
        return Response(
            product, status_code=201, headers={"Location": f"/v1/products/{product.sku}"}
        )

    @get(
        "/",
        sync_to_thread=True,
        operation_id="listProducts",
        summary="List products",
        responses=problems(422),
    )
    def list_products(
        self,
        product_queries: NamedDependency[ProductQueries],
        active: ActiveFilter = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> ProductPage:
        """Products by SKU, optionally only active or inactive ones, paginated."""
        page = product_queries.page(active, limit, cursor)
        return ProductPage([ProductOut.of(v) for v in page.items], page.next_cursor)

    @get(
        "/{sku:str}",
        sync_to_thread=True,
        operation_id="getProduct",
        summary="Get a product",
        responses=problems(404, 422),
    )
    def get_product(
        self, sku: SkuPath, product_queries: NamedDependency[ProductQueries]
    ) -> ProductOut:
        """One product, with its `available` stock."""
        return ProductOut.of(product_queries.get(sku))

    @patch(
        "/{sku:str}",
        guards=[admin_only],
        sync_to_thread=True,
        operation_id="updateProduct",
        summary="Change a product",
        responses=problems(400, 403, 404, 413, 422),
    )
    def update(
        self,
        sku: SkuPath,
        data: JSONBody[UpdateProductIn],
        update_product: NamedDependency[UpdateProduct],
        product_queries: NamedDependency[ProductQueries],
        correlation_id: NamedDependency[str | None],
    ) -> ProductOut:
        """Change `name`, `price` and/or `active` (admin). Placed orders keep their prices."""
        update_product(
            UpdateProductCommand(sku, data.name, data.price, data.active), correlation_id
        )
        return ProductOut.of(product_queries.get(sku))
