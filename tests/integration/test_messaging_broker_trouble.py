"""Broker trouble as an operator meets it: one clear line per reconnect attempt,
backoff that grows to a cap, no library tracebacks, `relay --once` that fails when
the broker refuses, and a readiness check that does not churn connections."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from adapters.messaging.health import BrokerHealth
from adapters.messaging.rabbitmq.connection import mask_url
from core.ports.errors import DependencyUnavailable
from tests.conftest import RABBITMQ_HOST, RABBITMQ_PORT, require_service
from tests.integration.messaging_support import (
    ORDERLY,
    ROOT,
    Shop,
    TcpProxy,
    await_consumers,
    deployment,
    json_lines,
    wait_until,
)

pytestmark = pytest.mark.rabbitmq


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


def _env(tmp_path: Path, rabbitmq_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERLY_", "OTEL_"))}
    env.update(
        ORDERLY_DATABASE_URL=f"sqlite:///{tmp_path / 'orderly.db'}",
        ORDERLY_MESSAGING="rabbitmq",
        ORDERLY_RABBITMQ_URL=rabbitmq_url,
        PYTHONUNBUFFERED="1",
    )
    return env


def _orderly(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ORDERLY, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_mask_url_hides_the_password_only() -> None:
    assert mask_url("amqp://app:s3cret@broker:5672/shop") == "amqp://app:***@broker:5672/shop"
    assert mask_url("amqp://broker/%2F") == "amqp://broker/%2F"


@pytest.mark.parametrize(
    ("password", "port", "reason"),
    [("wrong-secret", None, "login refused"), ("guest", "closed", "connection refused")],
    ids=["wrong password", "nothing listening"],
)
def test_relay_once_fails_in_one_line_when_the_broker_refuses(
    tmp_path: Path, password: str, port: str | None, reason: str
) -> None:
    require_service("RabbitMQ", RABBITMQ_HOST, RABBITMQ_PORT)
    broker_port = _closed_port() if port == "closed" else RABBITMQ_PORT
    env = _env(tmp_path, f"amqp://guest:{password}@{RABBITMQ_HOST}:{broker_port}/%2F")
    assert _orderly(env, "db", "upgrade").returncode == 0
    result = _orderly(env, "relay", "--once")  # nothing is waiting: it must still check
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert reason in lines[0]
    assert f"guest:***@{RABBITMQ_HOST}:{broker_port}" in lines[0]
    assert "wrong-secret" not in result.stderr
    assert "Traceback" not in result.stderr


def _reconnect_lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(errors="replace") if path.exists() else ""
    complete = text[: text.rfind("\n") + 1]
    return [line for line in json_lines(complete) if "reconnect_attempt" in line]


def test_worker_without_a_broker_writes_one_line_per_attempt_with_growing_backoff(
    tmp_path: Path,
) -> None:
    require_service("RabbitMQ", RABBITMQ_HOST, RABBITMQ_PORT)
    url = f"amqp://guest:not-shown@127.0.0.1:{_closed_port()}/%2F"
    env = _env(tmp_path, url)
    assert _orderly(env, "db", "upgrade").returncode == 0
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [ORDERLY, "worker", "--threads", "1"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: len(_reconnect_lines(log)) >= 4, "four reconnect attempts", 60)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    text = log.read_text()
    assert "Traceback" not in text and "not-shown" not in text
    lines = json_lines(text)  # every line is one JSON object
    assert {line["logger"] for line in lines} <= {"orderly.worker", "orderly.messaging.consumer"}
    attempts = [line for line in lines if "reconnect_attempt" in line]
    assert [a["reconnect_attempt"] for a in attempts[:4]] == [1, 2, 3, 4]
    assert [a["backoff_seconds"] for a in attempts[:4]] == [0.5, 1.0, 2.0, 4.0]
    assert all("connection refused at amqp://guest:***@" in a["event"] for a in attempts)


def test_worker_losing_the_broker_logs_each_attempt_then_consumes_again(
    tmp_path: Path, postgres_url: str, rabbitmq_url: str
) -> None:
    proxy = TcpProxy((RABBITMQ_HOST, RABBITMQ_PORT))
    try:
        with deployment(tmp_path, postgres_url, proxy.url(rabbitmq_url)) as deploy:
            deploy.broker_url = rabbitmq_url
            shop = Shop(deploy)
            deploy.orderly("relay", "relay")
            deploy.orderly("worker", "worker", "--threads", "1")
            await_consumers(rabbitmq_url)
            log = next(tmp_path.glob("worker-*.log"))
            proxy.cut()
            try:
                wait_until(lambda: len(_reconnect_lines(log)) >= 4, "four reconnect attempts")
                during = _reconnect_lines(log)
            finally:
                proxy.restore()
            order_id = shop.place_one(1)
            wait_until(lambda: shop.status(order_id) == "paid", "the order paid after the outage")
            worker_log = deploy.logs("worker")
    finally:
        proxy.close()
    assert "Traceback" not in worker_log
    assert "pika" not in {line["logger"] for line in json_lines(worker_log)}
    numbers = [line["reconnect_attempt"] for line in during]
    assert numbers == list(range(1, len(numbers) + 1))  # one line per attempt
    backoffs = [line["backoff_seconds"] for line in during]
    assert backoffs == sorted(backoffs) and max(backoffs) <= 10.0
    assert "consuming again from" in worker_log


def _connections(vhost_url: str) -> int:
    vhost = vhost_url.rsplit("/", 1)[1]
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "-p", vhost, "name", "--formatter", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return len(json.loads(listed.stdout or "[]"))


def _quiet(vhost_url: str, timeout: float = 30.0) -> None:
    """Wait until the vhost has no connection left (earlier tests' close asynchronously)."""
    deadline = time.monotonic() + timeout
    while _connections(vhost_url) and time.monotonic() < deadline:
        time.sleep(0.5)


def test_readiness_reuses_one_connection_and_remembers_a_down_answer(rabbitmq_url: str) -> None:
    _quiet(rabbitmq_url)
    health = BrokerHealth(rabbitmq_url, cache_seconds=0)  # every call checks for real
    try:
        for _ in range(5):
            health()
        assert _connections(rabbitmq_url) == 1
    finally:
        health.close()
    down = BrokerHealth(f"amqp://guest:guest@127.0.0.1:{_closed_port()}/%2F", cache_seconds=60)
    with pytest.raises(DependencyUnavailable) as first:
        down()
    with pytest.raises(DependencyUnavailable) as second:
        down()
    assert second.value is first.value  # the cached answer, no new attempt
    assert "connection refused" in str(first.value)
