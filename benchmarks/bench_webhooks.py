"""Webhook throughput: deliveries per second to a local receiver that answers at once.

Orderly: N deliveries in a fresh SQLite store, sent by `DeliverWebhooks` (claim,
sign, POST through the httpx adapter, record the outcome) with 16 sending
threads. Reference, in the same run: a bare `httpx.Client` posting the same
bodies from 16 threads (no store, no signature, no bookkeeping).

    .venv/bin/python -m benchmarks.bench_webhooks [N]
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from adapters.memory.webhook_network import MemoryResolver
from adapters.sql import migrate
from adapters.sql.database import SqlDatabase
from adapters.sql.webhooks import SqlWebhookStore
from adapters.system import SystemClock
from adapters.webhooks.http_sender import HttpxWebhookSender
from core.domain.events import EventEnvelope
from core.domain.webhooks import Secret, Subscription, deliveries_for
from core.use_cases.webhook_delivery import DeliverWebhooks
from core.use_cases.webhooks import TargetGuard, WebhookPolicy

THREADS = 16


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _bodies(store: SqlWebhookStore, n: int) -> list[bytes]:
    now = datetime.now(UTC)
    sub = Subscription("bench", "", ("*",), "", True, Secret("whsec_bench"), None, now, now)
    store.add_subscription(sub)
    deliveries = []
    for i in range(n):
        envelope = EventEnvelope(
            f"evt-{i}", "StockAdjusted", f"SKU-{i}", now, "bench", 1,
            {"sku": f"SKU-{i}", "on_hand": i, "reserved": 0, "delta": 1, "reason": "bench"},
        )  # fmt: skip
        deliveries += deliveries_for([sub], envelope, now)
    store.add_deliveries(deliveries)
    return [d.body.encode() for d in deliveries]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp:
        database = SqlDatabase.from_url(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrate.upgrade(database)
        store = SqlWebhookStore(database)
        bodies = _bodies(store, n)
        sub = store.get_subscription("bench")
        assert sub is not None
        store.update_subscription(replace(sub, url=url))
        policy = WebhookPolicy(allow_private_networks=True)
        sender = HttpxWebhookSender(policy.timeout_seconds, max_connections=THREADS)
        deliver = DeliverWebhooks(
            store, sender, TargetGuard(MemoryResolver(), True), SystemClock(), policy
        )
        started = time.perf_counter()
        sent = 0
        with ThreadPoolExecutor(THREADS) as pool:
            while True:
                done = deliver.run_once(200, pool)
                if done == 0:
                    break
                sent += done
        orderly = time.perf_counter() - started
        assert sent == n and store.stats().pending == 0, (sent, store.stats())
        sender.close()
        database.dispose()

    client = httpx.Client(limits=httpx.Limits(max_connections=THREADS), trust_env=False)
    headers = {"Content-Type": "application/json"}
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(
            pool.map(lambda b: client.post(url, content=b, headers=headers).status_code, bodies)
        )
    bare = time.perf_counter() - started
    assert statuses.count(200) == n
    client.close()
    server.shutdown()

    print(f"{n} deliveries, {THREADS} threads, local receiver answering 200 at once")
    print(f"orderly DeliverWebhooks (SQLite store): {orderly:6.2f} s  {n / orderly:8.0f}/s")
    print(f"bare httpx.Client posts:                {bare:6.2f} s  {n / bare:8.0f}/s")
    print(f"ratio orderly/bare throughput:          {bare / orderly:6.2f}")


if __name__ == "__main__":
    main()
