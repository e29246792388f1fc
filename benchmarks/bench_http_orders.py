"""POST and GET /v1/orders: `orderly serve` against the flat reference, in one run.

    .venv/bin/python -m benchmarks.bench_http_orders [--rounds 3] [--duration 10] [--conns 32]
        [--storage sqlite|postgres] [--workers 1] [--spread]
        [--pg-url postgresql://postgres@127.0.0.1:5432]

    # the PostgreSQL target: 2 workers each, 3 of 100 SKUs per order
    .venv/bin/python -m benchmarks.bench_http_orders --storage postgres --workers 2 --spread

Orderly runs as a user runs it (`orderly serve`, its defaults: INFO logs,
metrics, rate limiting, authentication, in-process messaging, delivered by the
process `serve` starts beside itself on SQLite; only the rate limit is raised so
the load is not refused) on a fresh SQLite file, or with `--storage postgres` on
a fresh PostgreSQL database; the reference is `benchmarks/flat_reference.py`
(two plain handlers over raw sqlite3, or over one psycopg connection per process
on a second fresh database) under uvicorn. Both get `--workers N` (`orderly serve
--workers N`, `uvicorn --workers N`: one connection per reference worker). The
two databases, `bench_http_<pid>_o` and `bench_http_<pid>_r` on the server
named by `--pg-url` (trust authentication, no password), are created through
psycopg and dropped WITH (FORCE) at the end, also when the run fails.

wrk (`apt-get install wrk`) drives both with the same load, rounds alternating,
so both see the same machine. Each POST orders 3 lines: of the same 3 hot SKUs,
or with `--spread` of 3 distinct SKUs of the 100 drawn per request (the same
work with little contention on the stock rows). Besides requests per second it
prints each server's CPU time per request (from /proc, with every descendant
process's: Orderly's delivery process and every worker count), which holds still
when other work shares the machine, and Orderly's outbox backlog after each POST
round with the time its delivery took to drain it. On PostgreSQL that CPU time
leaves out the database server's: the queries' own work runs in the PostgreSQL
backends, which are not the servers' descendants, so it compares the Python
side of both (and wrk and PostgreSQL share the same cores).
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
from collections.abc import Iterable
from pathlib import Path
from typing import Any, LiteralString

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
REF_KEY = "reference-key-0123456789abcdef0123456789"
BODY = {"lines": [{"sku": f"SKU-{n:06d}", "quantity": n} for n in (1, 2, 3)]}
SKUS = 100  # products SKU-000001.. made by _prepare (and by the reference)
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
        + "".join(f"SKU-{n:06d},Bench {n},1000,1000000000\n" for n in range(1, SKUS + 1))
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
# --spread: 3 distinct SKUs of SKU-000001..SKU-000100 per request, a seed per wrk thread.
LUA_POST_SPREAD = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer @KEY@"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  math.randomseed(os.time() * 100 + id)
end
function request()
  local a = math.random(1, @SKUS@)
  local b = a
  while b == a do b = math.random(1, @SKUS@) end
  local c = a
  while c == a or c == b do c = math.random(1, @SKUS@) end
  local body = string.format('{"lines":[{"sku":"SKU-%06d","quantity":1},'
    .. '{"sku":"SKU-%06d","quantity":2},{"sku":"SKU-%06d","quantity":3}]}', a, b, c)
  return wrk.format(nil, nil, nil, body)
end
"""


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
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.MULTILINE)  # not a "+/- Stdev" of x.99%
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


DRAIN_TIMEOUT = 120.0  # seconds for a server's outbox to empty after its POST round


def _drain(env: dict[str, str], name: str) -> tuple[int, float]:
    """Wait for the outbox to empty, so the next round does not share the machine with
    this one's deliveries; (backlog the round left, seconds it took to drain)."""
    left = backlog = _backlog(env)
    started = time.monotonic()
    while backlog:
        if time.monotonic() - started > DRAIN_TIMEOUT:
            raise SystemExit(
                f"{name}: outbox backlog still {backlog} after {DRAIN_TIMEOUT:.0f} s"
                f" (it was {left} after the POST round); is delivery running?"
            )
        time.sleep(0.2)
        backlog = _backlog(env)
    return left, time.monotonic() - started


def _pg_admin(pg_url: str, statement: LiteralString, *databases: str) -> None:
    """`statement`, each {} a database's quoted name, on the server's `postgres`
    database outside a transaction (CREATE and DROP DATABASE)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{pg_url}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(*map(sql.Identifier, databases)))


def _settle(pid: int, timeout: float = 60.0) -> None:
    """Wait until a server's processes are idle: with several workers the first answer
    comes from the first one up, while the others may still be starting."""
    deadline, before = time.monotonic() + timeout, _cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _cpu_seconds(pid)
        if now - before < 0.05:
            return
        before = now


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(10)


def _clean_up(
    servers: Iterable[subprocess.Popen[bytes]], pg_url: str, created: list[str], work: Path
) -> None:
    """Stop the servers, drop the databases made on `pg_url` (each tried, even if one
    fails) and remove the work directory: the end of a run, also when it failed."""
    for server in servers:
        _stop(server)
    for name in created:
        try:
            _pg_admin(pg_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)
        except Exception as exc:
            print(f"could not drop database {name}: {exc}", file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)


def _post_lua(key: str, spread: bool) -> str:
    if spread:
        return LUA_POST_SPREAD.replace("@KEY@", key).replace("@SKUS@", str(SKUS))
    return LUA_POST.format(key=key, body=json.dumps(BODY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--conns", type=int, default=32)
    parser.add_argument("--storage", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--workers", type=int, default=1, help="serving processes of each server (default 1)"
    )
    parser.add_argument(
        "--spread", action="store_true", help="3 of 100 SKUs per POST, not the same 3 hot ones"
    )
    parser.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432",
        help="the PostgreSQL server, without a database (--storage postgres)",
    )
    args = parser.parse_args()
    pg_url = args.pg_url.rstrip("/")
    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    created: list[str] = []
    servers: list[subprocess.Popen[bytes]] = []
    try:
        if args.storage == "postgres":
            names = {side: f"bench_http_{os.getpid()}_{side}" for side in ("o", "r")}
            for name in names.values():
                _pg_admin(pg_url, "CREATE DATABASE {}", name)
                created.append(name)
            orderly_db = pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
            env = _serving_env(f"{orderly_db}/{names['o']}")
            ref_env = {"REF_PG": f"{pg_url}/{names['r']}"}
        else:
            env = _serving_env(f"sqlite:///{work}/orderly.db")
            ref_env = {"REF_DB": str(work / "reference.db")}
        key, _ = _prepare(env, work)
        p1, p2 = _port(), _port()
        workers = ["--workers", str(args.workers)]
        servers.append(
            subprocess.Popen(
                [str(BIN / "orderly"), "serve", "--port", str(p1), *workers],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        servers.append(
            subprocess.Popen(
                [
                    str(BIN / "uvicorn"),
                    "benchmarks.flat_reference:app",
                    "--port",
                    str(p2),
                    *workers,
                    "--no-access-log",
                    "--log-level",
                    "warning",
                ],
                env={**os.environ, **ref_env, "REF_KEY": REF_KEY},
                cwd=HERE.parent,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        ours, ref = f"http://127.0.0.1:{p1}", f"http://127.0.0.1:{p2}"
        _wait(ours + "/health/live")
        for _ in range(300):  # the reference answers 404 on / once it is up
            try:
                urllib.request.urlopen(ref + "/", timeout=1)
            except urllib.error.HTTPError:
                break
            except Exception:
                time.sleep(0.1)
        if args.workers > 1:
            for server in servers:
                _settle(server.pid)
        post = {"o": _post_lua(key, args.spread), "r": _post_lua(REF_KEY, args.spread)}
        results: dict[str, list[dict[str, Any]]] = {
            "post_o": [],
            "post_r": [],
            "get_o": [],
            "get_r": [],
        }
        storage = "PostgreSQL" if args.storage == "postgres" else "SQLite"
        load = f"3 of {SKUS} SKUs per POST" if args.spread else "3 hot SKUs"
        print(
            f"wrk -t2 -c{args.conns} -d{args.duration}s, {args.rounds} rounds, {storage}, "
            f"{args.workers} worker(s) each, {load}"
        )
        print("round | orderly POST rps non2xx p99 cpu-ms/req | backlog drain-s | reference POST")
        for r in range(args.rounds):
            a = _wrk(ours + "/v1/orders", post["o"], args, servers[0].pid, work)
            left, drained = _drain(env, "orderly")
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
        _clean_up(servers, pg_url, created, work)


if __name__ == "__main__":
    main()
