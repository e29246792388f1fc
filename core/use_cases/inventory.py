"""Stock commands: set on-hand, adjust by a delta."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.domain.catalog import validate_sku
from core.domain.errors import NotFound
from core.domain.stock import StockItem
from core.ports.queries import StockView, stock_view
from core.ports.system import Clock
from core.ports.unit_of_work import UnitOfWorkFactory
from core.use_cases.support import with_retries


@dataclass(frozen=True)
class SetStockCommand:
    sku: str
    on_hand: int


@dataclass(frozen=True)
class AdjustStockCommand:
    sku: str
    delta: int
    reason: str


class _ChangeStock:
    """Load one stock item, apply a domain change, save; retried if a race is lost."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def _change(self, sku: str, change: Callable[[StockItem], None]) -> StockView:
        validate_sku(sku)

        def attempt() -> StockView:
            with self._uow() as uow:
                item = uow.stock.get(sku)
                if item is None:
                    raise NotFound(f"no stock item for {sku}")
                change(item)
                uow.stock.save(item)
                uow.commit()
                return stock_view(item)

        return with_retries(attempt)


class SetStock(_ChangeStock):
    def __call__(self, cmd: SetStockCommand) -> StockView:
        return self._change(
            cmd.sku, lambda item: item.set_on_hand(cmd.on_hand, self._clock.now(), reason="set")
        )


class AdjustStock(_ChangeStock):
    def __call__(self, cmd: AdjustStockCommand) -> StockView:
        return self._change(
            cmd.sku, lambda item: item.adjust(cmd.delta, cmd.reason, self._clock.now())
        )
