"""Shared fixtures: containers on each adapter, and service availability.

Integration tests need PostgreSQL and RabbitMQ on this machine. When one is
unreachable its tests skip with a reason naming it, unless
ORDERLY_REQUIRE_SERVICES=1 (set by .ci/run), when they fail instead.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from adapters.system import FixedClock
from tests.sent_notifications import SentNotifications

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
def sent_notifications() -> Iterator[SentNotifications]:
    """The notifications logged during the test (the log line is the notifier's record)."""
    with SentNotifications().attached() as sent:
        yield sent


def _admin_pg_conninfo() -> str:
    return f"host={POSTGRES_HOST} port={POSTGRES_PORT} user=postgres dbname=postgres"


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped on exit; yields its SQLAlchemy URL
    (postgresql+psycopg://...). The schema is not created: callers run the migrations
    (or `create_schema`) they need."""
    require_service("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
    import psycopg

    name = f"orderly_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_pg_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    finally:
        with psycopg.connect(_admin_pg_conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


@contextlib.contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A fresh RabbitMQ vhost (guest has all rights on it), deleted on exit; yields its URL."""
    require_service("RabbitMQ", RABBITMQ_HOST, RABBITMQ_PORT)
    vhost = f"orderly-test-{uuid.uuid4().hex[:12]}"

    def ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)

    ctl("add_vhost", vhost)
    ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    try:
        yield f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}/{vhost}"
    finally:
        ctl("delete_vhost", vhost)


@pytest.fixture
def rabbitmq_url() -> Iterator[str]:
    """A fresh RabbitMQ vhost for one test (rabbitmqctl costs seconds per call: share one
    per module with `rabbitmq_vhost()` where tests can purge queues instead)."""
    with rabbitmq_vhost() as url:
        yield url


@pytest.fixture(autouse=True)
def _record_details_restored() -> Iterator[None]:
    """`configure_logging` turns off what standard-library records collect for no key
    of ours (caller file and line, thread and process names); pytest's captured logs
    print the caller, so each test starts and ends with them on."""
    import logging

    saved = (logging._srcfile, logging.logThreads, logging.logProcesses)
    saved_multiprocessing = logging.logMultiprocessing
    yield
    logging._srcfile, logging.logThreads, logging.logProcesses = saved
    logging.logMultiprocessing = saved_multiprocessing
