"""POST and GET /v1/orders: `orderly serve` against the flat reference, in one run.

    .venv/bin/python -m benchmarks.bench_http_orders [--rounds 3] [--duration 10] [--conns 32]

Orderly runs as a user runs it (`orderly serve`, its defaults: INFO logs,
metrics, rate limiting, authentication, in-process messaging, delivered by the
process `serve` starts beside itself; only the rate limit is raised so the load
is not refused) on a fresh SQLite file; the reference is
`benchmarks/flat_reference.py` (two plain handlers over raw sqlite3) under
uvicorn. wrk (`apt-get install wrk`) drives both with the same load, rounds
alternating, so both see the same machine. Besides requests per second it
prints each server's CPU time per request (from /proc, with every child
process's: Orderly's delivery process counts), which holds still when other
work shares the machine, and Orderly's outbox backlog after each POST round with
the time its delivery took to drain it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
REF_KEY = "reference-key-0123456789abcdef0123456789"
BODY = {"lines": [{"sku": f"SKU-{n:06d}", "quantity": n} for n in (1, 2, 3)]}
TICK = os.sysconf("SC_CLK_TCK")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its descendants (serve --workers N)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _orderly(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "orderly"), *args], env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def _prepare(env: dict[str, str], work: Path) -> tuple[str, str]:
    """Migrate, create the key and 100 products; returns (api key, principal id)."""
    _orderly(env, "db", "upgrade")
    created = json.loads(_orderly(env, "users", "create", "bench", "--role", "customer", "--json"))
    csv = work / "products.csv"
    csv.write_text(
        "sku,name,price,on_hand\n"
        + "".join(f"SKU-{n:06d},Bench {n},1000,1000000000\n" for n in range(1, 101))
    )
    _orderly(env, "products", "import", str(csv))
    return str(created["api_key"]), str(created["id"])


def _serving_env(database_url: str) -> dict[str, str]:
    """`orderly serve` as a user runs it, only the rate limit raised (needs wrk)."""
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install wrk")
    return {
        **os.environ,
        "ORDERLY_DATABASE_URL": database_url,
        "ORDERLY_RATE_LIMIT_PER_MINUTE": "1000000000",
    }


def _wait(url: str) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"nothing answers at {url}")


def _post(url: str, key: str) -> str:
    request = urllib.request.Request(
        url,
        json.dumps(BODY).encode(),
        {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return str(json.load(answer)["id"])


LUA_POST = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
wrk.body = '{body}'
"""
LUA_GET = 'wrk.headers["Authorization"] = "Bearer {key}"\n'


def _wrk(url: str, lua: str, args: argparse.Namespace, pid: int, scripts: Path) -> dict[str, Any]:
    script = scripts / f"s{abs(hash((url, lua)))}.lua"
    script.write_text(lua)
    cpu = _cpu_seconds(pid)
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{args.conns}",
            f"-d{args.duration}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = _cpu_seconds(pid) - cpu
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        "non2xx": int(bad.group(1)) if bad else 0,
        "p99": p99.group(1) if p99 else "?",
        "cpu_ms": 1000 * cpu / max(done, 1),
    }


def _backlog(env: dict[str, str]) -> int:
    out = subprocess.run(
        [str(BIN / "orderly"), "outbox", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(json.loads(out)["backlog"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--conns", type=int, default=32)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    env = _serving_env(f"sqlite:///{work}/orderly.db")
    key, _ = _prepare(env, work)
    orderly = str(BIN / "orderly")
    p1, p2 = _port(), _port()
    servers = [
        subprocess.Popen(
            [orderly, "serve", "--port", str(p1)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                str(BIN / "uvicorn"),
                "benchmarks.flat_reference:app",
                "--port",
                str(p2),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env={**os.environ, "REF_DB": str(work / "reference.db"), "REF_KEY": REF_KEY},
            cwd=HERE.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        ours, ref = f"http://127.0.0.1:{p1}", f"http://127.0.0.1:{p2}"
        _wait(ours + "/health/live")
        for _ in range(300):  # the reference answers 404 on / once it is up
            try:
                urllib.request.urlopen(ref + "/", timeout=1)
            except urllib.error.HTTPError:
                break
            except Exception:
                time.sleep(0.1)
        body = json.dumps(BODY)
        post = {
            "o": LUA_POST.format(key=key, body=body),
            "r": LUA_POST.format(key=REF_KEY, body=body),
        }
        results: dict[str, list[dict[str, Any]]] = {
            "post_o": [],
            "post_r": [],
            "get_o": [],
            "get_r": [],
        }
        print(f"wrk -t2 -c{args.conns} -d{args.duration}s, {args.rounds} rounds, SQLite")
        print("round | orderly POST rps non2xx p99 cpu-ms/req | backlog drain-s | reference POST")
        for r in range(args.rounds):
            a = _wrk(ours + "/v1/orders", post["o"], args, servers[0].pid, work)
            left, started = _backlog(env), time.monotonic()
            while _backlog(env):
                time.sleep(0.2)
            drained = time.monotonic() - started
            b = _wrk(ref + "/v1/orders", post["r"], args, servers[1].pid, work)
            results["post_o"].append(a)
            results["post_r"].append(b)
            print(
                f"{r + 1} | {a['rps']:.0f} {a['non2xx']} {a['p99']} {a['cpu_ms']:.2f} | "
                f"{left} {drained:.1f} | {b['rps']:.0f} {b['non2xx']} {b['p99']} {b['cpu_ms']:.2f}"
            )
        mine, theirs = _post(ours + "/v1/orders", key), _post(ref + "/v1/orders", REF_KEY)
        print("round | orderly GET rps cpu-ms/req | reference GET")
        for r in range(args.rounds):
            a = _wrk(
                f"{ours}/v1/orders/{mine}", LUA_GET.format(key=key), args, servers[0].pid, work
            )
            b = _wrk(
                f"{ref}/v1/orders/{theirs}", LUA_GET.format(key=REF_KEY), args, servers[1].pid, work
            )
            results["get_o"].append(a)
            results["get_r"].append(b)
            print(f"{r + 1} | {a['rps']:.0f} {a['cpu_ms']:.2f} | {b['rps']:.0f} {b['cpu_ms']:.2f}")
        for verb in ("post", "get"):
            pairs = list(zip(results[f"{verb}_o"], results[f"{verb}_r"], strict=True))
            rps = statistics.median(a["rps"] / b["rps"] for a, b in pairs)
            cpu = statistics.median(b["cpu_ms"] / a["cpu_ms"] for a, b in pairs)
            print(
                f"{verb.upper()} /v1/orders: orderly/reference throughput {rps:.2f}, "
                f"CPU efficiency (reference cpu per request / orderly's) {cpu:.2f}"
            )
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
