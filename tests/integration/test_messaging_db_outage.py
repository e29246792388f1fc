"""Fault test: PostgreSQL out of the worker's reach for seconds, mid-stream.

The worker reaches PostgreSQL through a TCP proxy (messaging_support.TcpProxy); the
API side (this process) and the relay connect directly, so orders keep being placed
and the outbox keeps flowing to RabbitMQ. Cutting the proxy drops the worker's
database connections and refuses new ones, as a database gone away would, for this
worker only (the machine's PostgreSQL keeps serving everyone else). The worker must
requeue what it cannot store without spending the messages' delivery attempts (few
and short here, so that spending them would dead-letter), back off and retry (not
spin on redeliveries), log the outage, and carry on by itself once the proxy is
back: the same process, then the shared audit.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_HOST, POSTGRES_PORT
from tests.integration.messaging_support import (
    Shop,
    TcpProxy,
    audit,
    await_consumers,
    deployment,
    json_lines,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

OUTAGE_SECONDS = 4.0


def test_the_database_down_for_the_worker_requeues_without_burning_attempts(
    tmp_path: Path, postgres_url: str, rabbitmq_url: str
) -> None:
    proxy = TcpProxy((POSTGRES_HOST, POSTGRES_PORT))
    through_proxy = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    worker_env = {"ORDERLY_DATABASE_URL": through_proxy.render_as_string(hide_password=False)}
    try:
        with deployment(
            tmp_path,
            postgres_url,
            rabbitmq_url,
            # Were the outage counted as failed attempts, 3 attempts 200 ms apart would
            # dead-letter the messages long before the database is back.
            ORDERLY_MAX_DELIVERY_ATTEMPTS="3",
            ORDERLY_RETRY_DELAY_MS="200",
            ORDERLY_SWEEP_INTERVAL_SECONDS="1",  # the sweep meets the outage too
        ) as deploy:
            shop = Shop(deploy)
            relay = deploy.orderly("relay", "relay")
            worker = deploy.orderly("worker", "worker", "--threads", "2", env=worker_env)
            await_consumers(deploy.broker_url)

            stream = shop.stream(200)
            wait_until(lambda: shop.count_in("paid") >= 50, "the first 50 orders paid")
            proxy.cut()  # the database is gone for the worker, not for the API or relay
            try:
                cut_at = time.monotonic()
                with ThreadPoolExecutor(3) as pool:  # the API keeps accepting orders
                    during = list(pool.map(lambda _: shop.place_one(), range(100)))
                # ... and the relay keeps moving their events to RabbitMQ.
                wait_until(lambda: shop.backlog() == 0, "the relay to drain the outbox")
                time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
                during_logs = deploy.logs("worker")
                statuses = shop.statuses()
                paid_during = [o for o in during if statuses[o] == "paid"]
            finally:
                proxy.restore()
            # Requeued, not failed: no message went to a retry queue (nor, then, to the
            # dead-letter queue, which the audit checks is empty).
            assert "failed on event" not in during_logs, "the outage used up delivery attempts"
            assert worker.poll() is None, f"the worker exited with {worker.returncode}"
            assert paid_during == [], "the worker reached the database through a cut proxy"

            after_stream = shop.stream(100)  # and orders keep coming after it
            stream.join()
            after_stream.join()
            report = audit(shop, deploy)

            logs = deploy.logs("worker")
            # Recovered in place: the same process, still running, started once.
            assert worker.poll() is None, f"the worker exited with {worker.returncode}"
            assert deploy.processes == [relay, worker]  # no worker was started again
            assert {line.get("pid") for line in json_lines(logs)} == {worker.pid}
            assert logs.count("worker started") == 1
            assert "failed on event" not in logs, "the outage used up delivery attempts"
    finally:
        proxy.close()
    # Each consumer thread gave back what it held, dropped its broker connection and
    # tried again after a pause (0.5 s now), reporting each time: 16 reports in 4 s
    # from 2 threads. A consumer spinning on redeliveries of the messages it gave back
    # reports once in seconds (1-3 times in the whole outage, as measured).
    reported = during_logs.count("storage unavailable")
    assert reported >= 6, f"the worker reported the outage {reported} time(s) in 4 s"
    assert report.orders == 400
    assert report.refunded > 0
