"""Shared fixtures: containers on each adapter, and service availability.

Integration tests need PostgreSQL and RabbitMQ on this machine. When one is
unreachable its tests skip with a reason naming it, unless
ORDERLY_REQUIRE_SERVICES=1 (set by .ci/run), when they fail instead.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from adapters.system import FixedClock
from entrypoints.container import Container, build_container, start_delivery
from entrypoints.settings import Settings

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
RABBITMQ_HOST, RABBITMQ_PORT = "127.0.0.1", 5672


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or fail, when services are required) if the server is unreachable."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if os.environ.get("ORDERLY_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (ORDERLY_REQUIRE_SERVICES=1)")
    pytest.skip(message)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def memory_container(clock: FixedClock) -> Iterator[Container]:
    """A container on in-memory adapters with synchronous delivery and a fixed clock."""
    container = build_container(Settings(database_url="memory://"))
    container.clock.override(clock)
    start_delivery(container)
    yield container
    container.unwire()
