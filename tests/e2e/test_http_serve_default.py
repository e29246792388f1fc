"""`orderly serve` with no configuration at all: the embedded SQLite default."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
from click.testing import CliRunner

from entrypoints.cli.main import cli
from entrypoints.settings import MULTIPROCESS_ENV
from tests.e2e.serve_process import orderly_serve


def test_serve_with_no_configuration_creates_and_serves_the_sqlite_default(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERLY_")}
    log = tmp_path / "serve.log"
    with orderly_serve(log, env, cwd=tmp_path) as served:
        url = served.url
        assert httpx.get(f"{url}/health/ready", timeout=10).status_code == 200
        assert httpx.get(f"{url}/schema", timeout=10).status_code == 200
        assert httpx.get(f"{url}/v1/products", timeout=10).status_code == 401
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status says so.
        assert served.stop() in (0, -signal.SIGTERM)
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
    # A refused serve leaves no metrics directory behind for later processes to inherit.
    assert MULTIPROCESS_ENV not in os.environ
