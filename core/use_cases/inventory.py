"""Stock commands: set on-hand, adjust by a delta."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.catalog import validate_sku
from core.domain.errors import NotFound
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


class SetStock:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, cmd: SetStockCommand, correlation_id: str | None = None) -> None:
        validate_sku(cmd.sku)

        def attempt() -> None:
            with self._uow(correlation_id) as uow:
                item = uow.stock.get(cmd.sku)
                if item is None:
                    raise NotFound(f"no stock item for {cmd.sku}")
                item.set_on_hand(cmd.on_hand, self._clock.now(), reason="set")
                uow.stock.save(item)
                uow.commit()

        with_retries(attempt)


class AdjustStock:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, cmd: AdjustStockCommand, correlation_id: str | None = None) -> None:
        validate_sku(cmd.sku)

        def attempt() -> None:
            with self._uow(correlation_id) as uow:
                item = uow.stock.get(cmd.sku)
                if item is None:
                    raise NotFound(f"no stock item for {cmd.sku}")
                item.adjust(cmd.delta, cmd.reason, self._clock.now())
                uow.stock.save(item)
                uow.commit()

        with_retries(attempt)
