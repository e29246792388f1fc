"""`orderly serve` with no configuration at all: the embedded SQLite default."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from entrypoints.cli.main import cli

ORDERLY = str(Path(sys.executable).parent / "orderly")


def test_serve_with_no_configuration_creates_and_serves_the_sqlite_default(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERLY_")}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [ORDERLY, "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        assert ready.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/schema", timeout=10).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/v1/products", timeout=10).status_code == 401
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status says so.
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert (tmp_path / "orderly.db").exists()
    text = log.read_text()
    assert "Created the schema" in text
    assert "Application shutdown complete" in text and "Finished server process" in text


def test_serve_refuses_what_would_fail_every_request(tmp_path: Path) -> None:
    runner = CliRunner()
    shared = runner.invoke(
        cli, ["serve", "--workers", "2"], env={"ORDERLY_DATABASE_URL": "memory://"}
    )
    assert shared.exit_code == 1 and "memory://" in shared.output
    bad = runner.invoke(cli, ["serve"], env={"ORDERLY_DATABASE_URL": "mysql://x"})
    assert bad.exit_code == 1 and "ORDERLY_DATABASE_URL" in bad.output
    assert "Traceback" not in shared.output + bad.output
