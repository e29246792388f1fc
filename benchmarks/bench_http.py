"""HTTP server choice: the same Orderly app under uvicorn and under granian.

Each server runs one worker on 127.0.0.1 serving an app on in-memory storage,
seeded with one product and one customer (so the figures measure the HTTP
stack, not a database). A small asyncio client keeps CONNECTIONS keep-alive
connections busy for SECONDS per endpoint and counts completed responses:

- /health/live: the server and framework overhead alone;
- /v1/products/{sku}: the full stack (auth lookup, rate limit, use case in a thread).

It prints requests/second for both servers (best of two rounds in alternating
order) and the ratio granian/uvicorn.
Client and server share the machine's cores, equally for both servers.

    .venv/bin/python -m benchmarks.bench_http
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from litestar import Litestar

CONNECTIONS = 32
SECONDS = 5.0
SKU = "BENCH-1"


def bench_app() -> Litestar:
    """ASGI factory the servers import: a seeded in-memory app; the key goes to a file."""
    from core.use_cases.catalog import CreateProductCommand
    from entrypoints.container import build_container
    from entrypoints.http.app import create_app
    from entrypoints.logs import configure_logging
    from entrypoints.settings import Settings

    configure_logging("WARNING")  # no access-log I/O: measure the servers, not the terminal

    container = build_container(Settings(database_url="memory://", rate_limit_per_minute=10**9))
    container.create_product()(CreateProductCommand(SKU, "Benchmark mug", 1250, True, 10))
    key = container.create_principal()("bench", "customer").api_key
    Path(os.environ["ORDERLY_BENCH_KEY_FILE"]).write_text(key)
    return create_app(container)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _command(server: str, port: int) -> list[str]:
    target = "benchmarks.bench_http:bench_app"
    if server == "uvicorn":
        return [
            sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "granian", "--interface", "asgi", "--factory", target,
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--log-level", "warning",
        "--no-access-log",
    ]  # fmt: skip


def _wait_until_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


async def _connection(port: int, request: bytes, stop: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < stop:
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.decode(errors="replace"))
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            counts[0] += 1
    finally:
        writer.close()


async def _load(port: int, request: bytes) -> float:
    counts = [0]
    started = time.monotonic()
    stop = started + SECONDS
    await asyncio.gather(*(_connection(port, request, stop, counts) for _ in range(CONNECTIONS)))
    return counts[0] / (time.monotonic() - started)


def measure(server: str) -> dict[str, float]:
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "key"
        env = {**os.environ, "ORDERLY_BENCH_KEY_FILE": str(key_file)}
        proc = subprocess.Popen(_command(server, port), env=env)
        try:
            _wait_until_up(port, proc)
            key = key_file.read_text()
            live = b"GET /health/live HTTP/1.1\r\nHost: bench\r\n\r\n"
            product = (
                f"GET /v1/products/{SKU} HTTP/1.1\r\nHost: bench\r\n"
                f"Authorization: Bearer {key}\r\n\r\n"
            ).encode()
            asyncio.run(_load(port, live))  # warm-up, not counted
            return {
                "/health/live": asyncio.run(_load(port, live)),
                "/v1/products/{sku}": asyncio.run(_load(port, product)),
            }
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> None:
    # Rounds in alternating order, best of each: the machine is shared, and the best
    # figure is the one least disturbed by other processes.
    results: dict[str, dict[str, float]] = {"uvicorn": {}, "granian": {}}
    for order in (("uvicorn", "granian"), ("granian", "uvicorn")):
        for server in order:
            for endpoint, rate in measure(server).items():
                results[server][endpoint] = max(rate, results[server].get(endpoint, 0.0))
    print(f"{CONNECTIONS} connections, {SECONDS:.0f} s per endpoint, 1 worker, requests/second")
    print("(best of two rounds run in alternating order)")
    print(f"{'endpoint':<22}{'uvicorn':>10}{'granian':>10}{'granian/uvicorn':>18}")
    for endpoint in results["uvicorn"]:
        u, g = results["uvicorn"][endpoint], results["granian"][endpoint]
        print(f"{endpoint:<22}{u:>10.0f}{g:>10.0f}{g / u:>18.2f}")


if __name__ == "__main__":
    main()
