"""The memory adapter's copies (adapters/memory/cloning.py) are deep copies: equal to
what `copy.deepcopy` makes, independent of the original wherever it can change, and
sharing only what cannot."""

from __future__ import annotations

import copy
import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.memory.cloning import clone
from core.domain.catalog import Product
from core.domain.events import OrderPlaced
from core.domain.idempotency import IdempotencyRecord
from core.domain.money import Money
from core.domain.orders import Order, OrderLine
from core.domain.stock import Reservation, StockItem

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _state(value: Any) -> Any:
    """Everything a copy must reproduce, as plain data (domain objects have no __eq__)."""
    if isinstance(value, enum.Enum):
        return value
    if isinstance(value, list | tuple):
        return type(value), [_state(v) for v in value]
    if isinstance(value, dict):
        return {k: _state(v) for k, v in value.items()}
    if hasattr(value, "__dict__"):
        return type(value), {k: _state(v) for k, v in vars(value).items()}
    return value


def _order() -> Order:
    order = Order.place(
        "o-1", "c-1", [OrderLine("AB-1", 2, 100), OrderLine("CD-2", 1, 5)], "EUR", NOW
    )
    assert order.total == Money(205, "EUR")  # cached on the instance: copied along
    return order


def test_a_clone_equals_a_deepcopy_of_every_stored_kind() -> None:
    product = Product.create("AB-1", "Widget", Money(100, "EUR"), True, NOW)
    item = StockItem("AB-1", on_hand=5)
    held = {"AB-1": item.reserve("o-1", 2)}
    record = IdempotencyRecord("p-1", "k-1", "f", "o-1", {"order": {"lines": [1, 2]}}, NOW)
    for value in (_order(), product, item, held, record):
        assert _state(clone(value)) == _state(copy.deepcopy(value))


def test_what_can_change_is_copied_and_what_cannot_is_shared() -> None:
    order = _order()
    copied = clone(order)
    assert copied is not order and copied._events is not order._events
    placed, original = copied._events[0], order._events[0]
    assert isinstance(placed, OrderPlaced) and isinstance(original, OrderPlaced)
    assert placed is not original and placed.lines is not original.lines  # a list: copied
    assert copied.lines is order.lines  # a tuple of frozen lines: nothing to change
    copied.record(copied._events[0])
    assert len(order._events) == 1

    held = {"AB-1": Reservation("o-1", "AB-1", 2)}
    again = clone(held)
    again["AB-1"].ended = True
    assert held["AB-1"].ended is False

    record = IdempotencyRecord("p-1", "k-1", "f", "o-1", {"lines": [1]}, NOW)
    copied_record = clone(record)
    copied_record.response["lines"].append(2)
    assert record.response == {"lines": [1]}


@dataclass
class _Node:
    items: list[int] = field(default_factory=list)
    twin: list[int] | None = None


def test_aliasing_is_kept_as_deepcopy_keeps_it() -> None:
    node = _Node([1])
    node.twin = node.items
    copied = clone(node)
    assert copied.twin is copied.items and copied.items is not node.items


class _Custom:
    def __init__(self) -> None:
        self.items = [1]
        self.copied_by_hook = False

    def __deepcopy__(self, memo: dict[int, object]) -> _Custom:
        new = _Custom()
        new.copied_by_hook = True
        return new


def test_a_type_with_its_own_copy_hook_is_left_to_deepcopy() -> None:
    assert clone({"x": _Custom()})["x"].copied_by_hook
