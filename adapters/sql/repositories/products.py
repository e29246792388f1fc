"""Products: loaded locked, written through the unit of work's WriteQueue."""

from __future__ import annotations

from collections.abc import Iterable

from adapters.sql import mapping
from adapters.sql.late_begin import outside_transaction
from adapters.sql.prepared import select_rows
from adapters.sql.repositories.statements import (
    PRODUCT_GET,
    PRODUCT_INSERT,
    PRODUCT_UPDATE,
    PRODUCTS_MANY,
    PRODUCTS_MANY_UNLOCKED,
    PRODUCTS_WITH_STOCK_UNLOCKED,
)
from adapters.sql.repositories.write_queue import QueuedRepository, WriteQueue
from core.domain.catalog import Product


class SqlProductRepository(QueuedRepository):
    _by_key = PRODUCT_GET
    _key_param = "sku"
    _table = "products"

    def _loaded_product(self, row: mapping.Row) -> Product:
        product = mapping.product_from_row(row)
        self._loaded[product.sku] = product.version
        return product

    def get(self, sku: str) -> Product | None:
        self._queue.flush_for("products", (sku,))
        rows = select_rows(self._conn, PRODUCT_GET, {"sku": sku})
        return self._loaded_product(rows[0]) if rows else None

    def get_many(self, skus: Iterable[str], lock: bool = True) -> dict[str, Product]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        self._queue.flush_for("products", wanted)
        stage = self._queue.stage
        if stage is None:
            if not lock and self._conn.dialect.name == "postgresql":
                return self._with_stock_unlocked(wanted)
            statement = PRODUCTS_MANY if lock else PRODUCTS_MANY_UNLOCKED
            rows = select_rows(self._conn, statement, {"skus": wanted})
            return {row["sku"]: self._loaded_product(row) for row in rows}
        # In a write group: each product read once per group (group_stage.py). No
        # staged write is a product's: members that write products send at commit.
        cached = stage.products
        missing = [sku for sku in wanted if sku not in cached]
        if missing:
            for row in select_rows(self._conn, PRODUCTS_MANY, {"skus": missing}, send_staged=False):
                cached[row["sku"]] = row
        return {sku: self._loaded_product(cached[sku]) for sku in wanted if sku in cached}

    def _with_stock_unlocked(self, wanted: list[str]) -> dict[str, Product]:
        """A placement's read on PostgreSQL: its stock rows come along, unlocked as the
        products are, and wait in the queue for its stock read (one round trip fewer).
        Both are read as last committed either way (READ COMMITTED): the stock change
        is checked when it is written (STOCK_RESERVE)."""
        kept = self._queue.unlocked_stock
        found = {}
        with outside_transaction(self._conn):  # first of a placement: no BEGIN trip (late_begin)
            rows = select_rows(self._conn, PRODUCTS_WITH_STOCK_UNLOCKED, {"skus": wanted})
        for row in rows:
            sku = row["sku"]
            found[sku] = self._loaded_product(row)
            if row["stock_version"] is not None and not self._queue.queued("stock", sku):
                kept[sku] = (row["stock_on_hand"], row["stock_reserved"], row["stock_version"])
        return found

    def add(self, product: Product) -> None:
        # A duplicate SKU fails at flush (ConcurrencyConflict), as a concurrent add would.
        values = mapping.product_values(product)
        self._queue.put(WriteQueue.PRODUCT_INSERTS, "products", product.sku, PRODUCT_INSERT, values)
        self._loaded[product.sku] = product.version
        self._track(product)

    def save(self, product: Product) -> None:
        values = mapping.product_values(product)
        values["k_sku"] = values.pop("sku")
        del values["created_at"]
        self._queue_update(
            WriteQueue.PRODUCT_UPDATES, PRODUCT_UPDATE, product.sku, product.version, values
        )
        self._track(product)
