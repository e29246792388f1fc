"""Copies of stored aggregates: what `copy.deepcopy` makes, in a quarter of the time.

The memory adapter copies every aggregate a unit of work reads and every one it commits
(repositories.py), so that no transaction sees another's uncommitted changes. Most of
`deepcopy`'s time went on rebuilding values that cannot change: the datetimes, the
`Money` and the frozen order lines of every order. Here a value that cannot change is
shared; everything else is copied as `deepcopy` copies it, aliasing kept, and a type this
module does not know is handed to `deepcopy` itself.
"""

from __future__ import annotations

import copy
import copyreg
import dataclasses
import enum
import functools
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

T = TypeVar("T")

_ATOMIC = frozenset(
    {str, int, float, bool, complex, bytes, type(None), datetime, date, time, timedelta, Decimal}
)


def clone(value: T) -> T:
    """A deep copy of `value`, sharing only what cannot be changed."""
    copied: T = _clone(value, {})
    return copied


def _clone(value: Any, memo: dict[int, Any]) -> Any:
    if _immutable(value):
        return value
    seen = memo.get(id(value))
    if seen is not None:
        return seen
    cls: type = type(value)
    new: Any
    if cls is list:
        new = memo[id(value)] = []
        new.extend(_clone(item, memo) for item in value)
    elif cls is dict:
        new = memo[id(value)] = {}
        new.update((_clone(k, memo), _clone(v, memo)) for k, v in value.items())
    elif _plain(cls):
        new = memo[id(value)] = object.__new__(cls)
        new.__dict__.update({k: _clone(v, memo) for k, v in value.__dict__.items()})
    else:
        new = copy.deepcopy(value, memo)
    return new


def _immutable(value: Any) -> bool:
    """True for atomic values, enum members, and tuples, frozensets and frozen
    dataclasses made only of immutable values."""
    cls: type = type(value)
    if cls in _ATOMIC or isinstance(value, enum.Enum):
        return True
    if cls is tuple or cls is frozenset:
        return all(_immutable(item) for item in value)
    fields = _frozen_fields(cls)
    if fields is None:
        return False
    state = getattr(value, "__dict__", None)  # a cached_property lands here too
    items = state.values() if state is not None else (getattr(value, f) for f in fields)
    return all(_immutable(item) for item in items)


@functools.cache
def _frozen_fields(cls: type) -> tuple[str, ...] | None:
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        return None
    return tuple(f.name for f in dataclasses.fields(cls))


@functools.cache
def _plain(cls: type) -> bool:
    """Whether `deepcopy` copies instances of `cls` as a new instance with a deep copy
    of its `__dict__`: no slots, no `__new__`, and no copying or pickling hooks."""
    inherited = ("__new__", "__reduce_ex__", "__reduce__", "__getstate__")
    return (
        all(getattr(cls, name) is getattr(object, name) for name in inherited)
        and not hasattr(cls, "__deepcopy__")
        and not hasattr(cls, "__setstate__")
        and cls not in copyreg.dispatch_table
        and all("__slots__" not in vars(base) for base in cls.__mro__)
    )
