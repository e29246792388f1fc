"""A real `orderly serve` process for e2e tests: started on a free port, waited for
until /health/ready answers 200, killed on exit if the test did not stop it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ORDERLY = str(Path(sys.executable).parent / "orderly")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pids_that_logged(log: Path, **fields: object) -> set[int]:
    """The pids of the processes that wrote a JSON line to `log` with these fields."""
    pids = set()
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if all(entry.get(key) == value for key, value in fields.items()):
            pids.add(int(entry["pid"]))
    return pids


@dataclass
class ServedProcess:
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; the exit status (uvicorn re-raises the signal: -SIGTERM)."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


@contextmanager
def orderly_serve(
    log: Path,
    env: Mapping[str, str],
    *args: str,
    cwd: Path | None = None,
    startup_seconds: float = 60,
) -> Iterator[ServedProcess]:
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [ORDERLY, "serve", "--port", str(port), *args],
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    served = ServedProcess(f"http://127.0.0.1:{port}", log, process)
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{served.url}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "orderly serve did not become ready"
            time.sleep(0.2)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
