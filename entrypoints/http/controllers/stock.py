"""/v1/stock: stock levels (admins only)."""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from core.use_cases.inventory import AdjustStock, AdjustStockCommand, SetStock, SetStockCommand
from core.use_cases.queries import ProductQueries
from entrypoints.http.auth import admin_only
from entrypoints.http.controllers.params import SkuPath
from entrypoints.http.openapi_docs import SECURITY, problems
from entrypoints.http.schemas import AdjustStockIn, SetStockIn, StockOut


class StockController(Controller):
    path = "/stock"
    tags = ["stock"]
    security = SECURITY
    guards = [admin_only]

    @get(
        "/{sku:str}",
        sync_to_thread=True,
        operation_id="getStock",
        summary="Get a stock level",
        responses=problems(403, 404, 422),
    )
    def get_stock(self, sku: SkuPath, product_queries: NamedDependency[ProductQueries]) -> StockOut:
        """`{sku, on_hand, reserved, available}`."""
        return StockOut.of(product_queries.stock(sku))

    @put(
        "/{sku:str}",
        sync_to_thread=True,
        operation_id="setStock",
        summary="Set on-hand stock",
        responses=problems(400, 403, 404, 409, 413, 422),
    )
    def set_on_hand(
        self,
        sku: SkuPath,
        data: JSONBody[SetStockIn],
        set_stock: NamedDependency[SetStock],
        product_queries: NamedDependency[ProductQueries],
        correlation_id: NamedDependency[str | None],
    ) -> StockOut:
        """Set `on_hand`; 409 `stock_below_reserved` if below what orders have reserved."""
        set_stock(SetStockCommand(sku, data.on_hand), correlation_id)
        return StockOut.of(product_queries.stock(sku))

    @post(
        "/{sku:str}/adjustments",
        sync_to_thread=True,
        status_code=200,
        operation_id="adjustStock",
        summary="Adjust stock by a delta",
        responses=problems(400, 403, 404, 409, 413, 422),
    )
    def adjust(
        self,
        sku: SkuPath,
        data: JSONBody[AdjustStockIn],
        adjust_stock: NamedDependency[AdjustStock],
        product_queries: NamedDependency[ProductQueries],
        correlation_id: NamedDependency[str | None],
    ) -> StockOut:
        """Change `on_hand` by a non-zero `delta`; 409 if it would go below zero or reserved.
        Answers the stock after the adjustment."""
        adjust_stock(AdjustStockCommand(sku, data.delta, data.reason), correlation_id)
        return StockOut.of(product_queries.stock(sku))
