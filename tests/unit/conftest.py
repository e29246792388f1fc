"""Unit-suite fixtures: shops on the in-memory container, and a guard against I/O."""

from __future__ import annotations

import gc
import socket
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.system import FixedClock
from entrypoints.container import Container
from entrypoints.delivery import start_delivery
from tests.sent_notifications import SentNotifications
from tests.unit.containers import lend, recycle_all
from tests.unit.shop import Shop, build_shop

MakeShop = Callable[..., Shop]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Leave what imports and collection made out of the garbage collector's full
    passes: pytest runs two at the end (looking for unraisable exceptions) and each
    walked the whole heap of imported modules, a tenth of a second apiece. Only
    objects made before any test ran are frozen, so none a test leaves is missed."""
    gc.freeze()


@pytest.fixture(autouse=True)
def no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit suite touches no network and no database file: fail loudly if it tries."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("unit tests must not do network or database I/O")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(sqlite3, "connect", refuse)


@pytest.fixture(autouse=True)
def recycled_containers() -> Iterator[None]:
    """Containers lent during a test (tests/unit/containers.py) are reset after it."""
    yield
    recycle_all()


@pytest.fixture
def memory_container(clock: FixedClock) -> Container:
    """A container on in-memory adapters with synchronous delivery and a fixed clock."""
    container = lend()
    container.clock.override(clock)
    start_delivery(container)
    return container


@pytest.fixture
def shop(
    memory_container: Container, clock: FixedClock, sent_notifications: SentNotifications
) -> Shop:
    """The shared memory container: synchronous delivery, simulated gateway, log notifier."""
    return Shop(memory_container, clock, notifications=sent_notifications)


@pytest.fixture
def make_shop(clock: FixedClock, sent_notifications: SentNotifications) -> MakeShop:
    """Build a shop with other settings or test doubles: make_shop(gateway=..., deliver=False,
    payments_decline_above=1000, ...)."""

    def make(**kwargs: Any) -> Shop:
        kwargs.setdefault("notifications", sent_notifications)
        return build_shop(clock, **kwargs)

    return make
