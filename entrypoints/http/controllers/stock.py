"""/v1/stock: stock levels (admins only)."""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from core.use_cases.inventory import AdjustStockCommand, SetStockCommand
from entrypoints.http.auth import admin_only
from entrypoints.http.controllers.params import SkuPath
from entrypoints.http.dependencies import Services
from entrypoints.http.openapi_docs import SECURITY, problems
from entrypoints.http.schemas import AdjustStockIn, SetStockIn, StockOut


class StockController(Controller):
    path = "/stock"
    tags = ["stock"]
    security = SECURITY
    guards = [admin_only]

    @get(
        "/{sku:str}",
        operation_id="getStock",
        summary="Get a stock level",
        responses=problems(403, 404, 422),
    )
    async def get_stock(self, sku: SkuPath, services: NamedDependency[Services]) -> StockOut:
        """`{sku, on_hand, reserved, available}`."""
        queries = services.product_queries
        return StockOut.of(await services.offload.read(lambda: queries.stock(sku)))

    @put(
        "/{sku:str}",
        operation_id="setStock",
        summary="Set on-hand stock",
        responses=problems(400, 403, 404, 409, 413, 422),
    )
    async def set_on_hand(
        self,
        sku: SkuPath,
        services: NamedDependency[Services],
        data: JSONBody[SetStockIn],
    ) -> StockOut:
        """Set `on_hand`; 409 `stock_below_reserved` if below what orders have reserved."""
        command = SetStockCommand(sku, data.on_hand)
        set_stock = services.set_stock
        return StockOut.of(await services.offload.write(lambda: set_stock(command)))

    @post(
        "/{sku:str}/adjustments",
        status_code=200,
        operation_id="adjustStock",
        summary="Adjust stock by a delta",
        responses=problems(400, 403, 404, 409, 413, 422),
    )
    async def adjust(
        self,
        sku: SkuPath,
        services: NamedDependency[Services],
        data: JSONBody[AdjustStockIn],
    ) -> StockOut:
        """Change `on_hand` by a non-zero `delta`; 409 if it would go below zero or reserved.
        Answers the stock after the adjustment."""
        command = AdjustStockCommand(sku, data.delta, data.reason)
        adjust_stock = services.adjust_stock
        view = await services.offload.write(lambda: adjust_stock(command))
        return StockOut.of(view)
