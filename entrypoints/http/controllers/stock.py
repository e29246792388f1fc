"""/v1/stock: stock levels (admins only)."""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar import Controller, Request
from litestar.params import JSONBody

from core.use_cases.inventory import AdjustStockCommand, SetStockCommand
from entrypoints.http.auth import admin_only
from entrypoints.http.controllers.params import SkuPath
from entrypoints.http.dependencies import services_of
from entrypoints.http.handlers import get, post, put
from entrypoints.http.openapi_docs import operation
from entrypoints.http.schemas import AdjustStockIn, SetStockIn, StockOut

ONE = "/{sku:str}"


class StockController(Controller):
    path = "/stock"
    tags = ["stock"]
    guards = [admin_only]

    @operation(get, ONE, "getStock", "Get a stock level", 403, 404, 422)
    async def get_stock(self, sku: SkuPath, request: Request[Any, Any, Any]) -> StockOut:
        """`{sku, on_hand, reserved, available}`."""
        services = services_of(request)
        queries = services.product_queries
        return StockOut.of(await services.offload.read(lambda: queries.stock(sku)))

    @operation(put, ONE, "setStock", "Set on-hand stock", 400, 403, 404, 409, 413, 422)
    async def set_on_hand(
        self, sku: SkuPath, request: Request[Any, Any, Any], data: JSONBody[SetStockIn]
    ) -> StockOut:
        """Set `on_hand`; 409 `stock_below_reserved` if below what orders have reserved."""
        services = services_of(request)
        command = SetStockCommand(sku, data.on_hand)
        return StockOut.of(await services.offload.write(partial(services.set_stock, command)))

    @operation(
        post, f"{ONE}/adjustments", "adjustStock", "Adjust stock by a delta",
        400, 403, 404, 409, 413, 422, status_code=200,
    )  # fmt: skip
    async def adjust(
        self, sku: SkuPath, request: Request[Any, Any, Any], data: JSONBody[AdjustStockIn]
    ) -> StockOut:
        """Change `on_hand` by a non-zero `delta`; 409 if it would go below zero or reserved.
        Answers the stock after the adjustment."""
        services = services_of(request)
        command = AdjustStockCommand(sku, data.delta, data.reason)
        return StockOut.of(await services.offload.write(partial(services.adjust_stock, command)))
