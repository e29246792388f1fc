"""Catalogue commands: create, update and bulk-import products."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import NamedTuple

from core.domain.catalog import Product, validate_name, validate_price, validate_sku
from core.domain.errors import AlreadyExists, DomainError, NotFound, ValidationError
from core.domain.limits import MAX_STOCK
from core.domain.money import Money
from core.domain.stock import StockItem
from core.ports.errors import ConcurrencyConflict
from core.ports.queries import ProductView, product_view
from core.ports.system import Clock
from core.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from core.use_cases.support import Changed, with_retries


@dataclass(frozen=True)
class CreateProductCommand:
    sku: str
    name: str
    price: int
    active: bool = True
    on_hand: int = 0


@dataclass(frozen=True)
class UpdateProductCommand:
    sku: str
    name: str | None = None
    price: int | None = None
    active: bool | None = None


class CreateProduct:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, currency: str) -> None:
        self._uow = uow
        self._clock = clock
        self._currency = currency

    def __call__(self, cmd: CreateProductCommand) -> ProductView:
        now = self._clock.now()
        product = Product.create(
            cmd.sku, cmd.name, Money(validate_price(cmd.price), self._currency), cmd.active, now
        )
        stock = StockItem(cmd.sku)
        if cmd.on_hand:
            stock.set_on_hand(cmd.on_hand, now, reason="initial stock")
        try:
            with self._uow() as uow:
                if uow.products.get(cmd.sku) is not None:
                    raise AlreadyExists(f"product {cmd.sku} already exists")
                uow.products.add(product)
                uow.stock.add(stock)
                uow.commit()
        except ConcurrencyConflict:
            # A concurrent create of the same SKU won the unique-key race.
            raise AlreadyExists(f"product {cmd.sku} already exists") from None
        return product_view(product, stock)


class UpdateProduct:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, cmd: UpdateProductCommand) -> Changed[ProductView]:
        def attempt() -> Changed[ProductView]:
            with self._uow() as uow:
                product = uow.products.get(cmd.sku)
                if product is None:
                    raise NotFound(f"product {cmd.sku} not found")
                changed = product.update(self._clock.now(), cmd.name, cmd.price, cmd.active)
                if changed:
                    uow.products.save(product)
                stock = uow.stock.get(cmd.sku)  # for the view's `available`
                if changed:
                    uow.commit()
                return Changed(product_view(product, stock), changed)

        return with_retries(attempt)


class ProductRow(NamedTuple):
    """One row of an import file, as read; `line` is its line number in the file.

    A named tuple, not a frozen dataclass like the commands: an import makes one per
    row, and a frozen dataclass's __init__ (an object.__setattr__ per field) cost five
    times as much, 2 % of the import's instructions."""

    line: int
    sku: str
    name: str
    price: int
    on_hand: int
    active: bool = True


_SKU = attrgetter("sku")


@dataclass
class ImportReport:
    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


class ImportProducts:
    """Upsert a batch of rows in one transaction: new SKUs are created, known ones updated.

    Every row is validated before anything changes, so a bad row is rejected on
    its own and never half-applies; a repeated SKU within a batch is rejected.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, currency: str) -> None:
        self._uow = uow
        self._clock = clock
        self._currency = currency

    def __call__(self, rows: Sequence[ProductRow], seen: set[str] | None = None) -> ImportReport:
        """`seen` carries SKUs of earlier batches of the same file to catch repeats."""
        seen = set() if seen is None else seen
        report = ImportReport()
        valid: list[ProductRow] = []
        for row in rows:
            try:
                validate_sku(row.sku)
                validate_name(row.name)
                validate_price(row.price)
                if isinstance(row.on_hand, bool) or row.on_hand < 0:
                    raise ValidationError(f"invalid on_hand {row.on_hand}: must be >= 0")
                if row.on_hand > MAX_STOCK:
                    raise ValidationError(
                        f"invalid on_hand {row.on_hand}: must be at most {MAX_STOCK}"
                    )
                if row.sku in seen:
                    raise ValidationError(f"SKU {row.sku} appears earlier in the file")
            except DomainError as exc:
                report.rejected.append((row.line, exc.detail))
                continue
            seen.add(row.sku)
            valid.append(row)
        if not valid:
            return report
        now = self._clock.now()

        def attempt() -> ImportReport:
            result = ImportReport(rejected=list(report.rejected))
            with self._uow() as uow:
                products = uow.products.get_many(r.sku for r in valid)
                # Stock rows are locked in SKU order, as PlaceOrder/CancelOrder/ShipOrder
                # lock them, so an import never deadlocks with them on PostgreSQL.
                for row in sorted(valid, key=_SKU):
                    try:
                        self._apply(uow, products.get(row.sku), row, now)
                    except DomainError as exc:
                        result.rejected.append((row.line, exc.detail))
                        continue
                    result.accepted += 1
                uow.commit()
            result.rejected.sort()
            return result

        return with_retries(attempt)

    def _apply(
        self, uow: UnitOfWork, product: Product | None, row: ProductRow, now: datetime
    ) -> None:
        if product is None:
            stock = StockItem(row.sku)
            # Validate the stock change before any write for this row.
            stock.set_on_hand(row.on_hand, now, reason="import")
            uow.products.add(
                Product.create(row.sku, row.name, Money(row.price, self._currency), row.active, now)
            )
            uow.stock.add(stock)
            return
        existing = uow.stock.get(row.sku)
        if existing is None:
            raise NotFound(f"stock for {row.sku} is missing")
        existing.set_on_hand(row.on_hand, now, reason="import")
        if product.update(now, row.name, row.price, row.active):
            uow.products.save(product)
        uow.stock.save(existing)
