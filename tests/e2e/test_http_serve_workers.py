"""`orderly serve --workers 2`: one service, whichever worker answers.

The metrics of a multi-worker server must count every worker's requests: a
scrape answered by either worker reports the same totals.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx

from tests.e2e.serve_process import ORDERLY, orderly_serve, pids_that_logged


def _products_requests(metrics_text: str) -> float:
    """Total of the request counter for GET /v1/products, over every status label."""
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith("orderly_http_requests_total{") and 'path="/v1/products"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_of_two_workers_count_every_request(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERLY_", "PROMETHEUS_"))}
    env["ORDERLY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'orderly.db'}"
    subprocess.run([ORDERLY, "db", "upgrade"], env=env, check=True, capture_output=True)
    log = tmp_path / "serve.log"
    with orderly_serve(log, env, "--workers", "2") as served:
        base = served.url
        sent = 0
        # New connections until both workers have answered some (the kernel hands each
        # accept to whichever worker is waiting; the access log names the pid).
        while len(pids_that_logged(log, event="request", path="/v1/products")) < 2 and sent < 400:
            with httpx.Client(timeout=10) as client:
                assert client.get(f"{base}/v1/products").status_code == 401
            sent += 1
        assert len(pids_that_logged(log, event="request", path="/v1/products")) == 2, (
            log.read_text()[-2000:]
        )
        for _ in range(8):
            with httpx.Client(timeout=10) as client:
                text = client.get(f"{base}/metrics").text
            assert _products_requests(text) == sent
            # Scrape-time gauges, read from the database by whichever worker answers.
            assert "\norderly_dead_letters 0.0\n" in text
            assert text.count("# TYPE orderly_dead_letters gauge") == 1
        assert len(pids_that_logged(log, event="request", path="/metrics")) >= 1
        served.stop()
