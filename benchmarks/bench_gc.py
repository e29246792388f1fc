"""The garbage collector in a loaded `orderly serve`: how often it runs, for how long.

    .venv/bin/python -m benchmarks.bench_gc [--duration 10] [--conns 32]

`orderly serve` runs as a user runs it (SQLite file, in-process delivery, its
defaults; only the rate limit raised), started through this module so that a
`gc.callbacks` hook times every collection in the serving process. wrk
(`apt-get install wrk`) sends POST /v1/orders for `--duration` seconds after a
short warm-up. Printed: collections and their time per generation, the longest
pause, and the collector's share of the serving process's CPU over the same span
(from /proc). Two servers in one run: Orderly as shipped (`entrypoints/heap.py`
freezes start-up objects and spaces young collections) and the same with
CPython's collector defaults (`settle_heap` not called), so the settings'
effect is a ratio measured on the same machine at the same time. This is the
probe behind docs/decisions/0022-garbage-collector-settings.md.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_http_orders import (
    BODY,
    LUA_POST,
    _cpu_seconds,
    _port,
    _prepare,
    _serving_env,
    _wait,
)

BIN = Path(sys.executable).parent


class _Collections:
    """Times every collection; SIGUSR1 starts the span, SIGUSR2 writes it to `out`."""

    def __init__(self, out: Path) -> None:
        self._out = out
        self._started = 0.0
        self.reset()

    def reset(self, *_: Any) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = 0.0

    def hook(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = time.perf_counter() - self._started
        generation = info["generation"]
        self.count[generation] += 1
        self.seconds[generation] += took
        self.longest = max(self.longest, took)

    def write(self, *_: Any) -> None:
        data = {"count": self.count, "seconds": self.seconds, "longest": self.longest}
        self._out.write_text(json.dumps(data))


def serve(port: int, out: Path, gc_defaults: bool) -> None:
    """`orderly serve` in this process, with the collections timed."""
    if gc_defaults:
        from entrypoints.http import asgi

        vars(asgi)["settle_heap"] = lambda: None  # CPython's own collector settings
    collections = _Collections(out)
    gc.callbacks.append(collections.hook)
    signal.signal(signal.SIGUSR1, collections.reset)
    signal.signal(signal.SIGUSR2, collections.write)
    atexit.register(collections.write)
    from entrypoints.cli.main import cli

    cli(["serve", "--host", "127.0.0.1", "--port", str(port)])


def _signal_and_read(pid: int, out: Path) -> dict[str, Any]:
    out.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR2)
    for _ in range(100):
        if out.exists() and out.stat().st_size:
            data: dict[str, Any] = json.loads(out.read_text())
            return data
        time.sleep(0.05)
    raise SystemExit("the serving process wrote no GC figures")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--conns", type=int, default=32)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the server's own mode
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--gc-defaults", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.out, args.gc_defaults)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-gc-"))
    env = _serving_env(f"sqlite:///{work}/orderly.db")
    key, _ = _prepare(env, work)
    try:
        shipped = _measure(args, env, work, key, gc_defaults=False)
        defaults = _measure(args, env, work, key, gc_defaults=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"POST /v1/orders, {args.duration} s, {args.conns} connections, SQLite, one process")
    for name, (rate, figures, cpu) in (("as shipped", shipped), ("CPython defaults", defaults)):
        total = sum(figures["seconds"])
        print(f"{name}: {rate}/s, GC {total:.2f} s of {cpu:.2f} s CPU ({total / cpu:.1%})")
        for generation in range(3):
            n, s = figures["count"][generation], figures["seconds"][generation]
            print(f"  generation {generation}: {n:6d} collections, {s * 1000:8.1f} ms")
        print(f"  longest pause {figures['longest'] * 1000:.1f} ms")
    share = [sum(f["seconds"]) / cpu for _, f, cpu in (shipped, defaults)]
    print(f"GC share of CPU, shipped / defaults: {share[0] / max(share[1], 1e-9):.2f}")


def _measure(
    args: argparse.Namespace, env: dict[str, str], work: Path, key: str, gc_defaults: bool
) -> tuple[str, dict[str, Any], float]:
    """One server: (requests per second, GC figures, serving CPU seconds) under load."""
    port, out = _port(), work / "gc.json"
    command = [sys.executable, "-m", "benchmarks.bench_gc", "--serve", str(port), "--out", str(out)]
    server = subprocess.Popen(
        [*command, *(["--gc-defaults"] if gc_defaults else [])],
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(url + "/health/live")
        script = work / "post.lua"
        script.write_text(LUA_POST.format(key=key, body=json.dumps(BODY)))

        def load(seconds: int) -> str:
            wrk = ["wrk", "-t2", f"-c{args.conns}", f"-d{seconds}s", "-s", str(script)]
            return subprocess.run(
                [*wrk, url + "/v1/orders"], capture_output=True, text=True, check=True
            ).stdout

        load(2)  # warm-up: imports, caches and connections settle first
        os.kill(server.pid, signal.SIGUSR1)
        cpu = _cpu_seconds(server.pid)
        report = load(args.duration)
        cpu = _cpu_seconds(server.pid) - cpu
        figures = _signal_and_read(server.pid, out)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    rate = next(line for line in report.splitlines() if line.startswith("Requests/sec"))
    return rate.split()[-1], figures, max(cpu, 1e-9)


if __name__ == "__main__":
    main()
