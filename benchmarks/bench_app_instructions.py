"""Instructions per request in the app: Orderly's against the flat reference's, exactly.

    .venv/bin/python -m benchmarks.bench_app_instructions [--count 1000]
        [--storage sqlite|postgres] [--pg-url postgresql://postgres@127.0.0.1:5432]

Needs valgrind (`apt-get install valgrind`). Wall-clock figures on this machine
swing by 10-20 % from one round to the next, more than most single changes to the
request path are worth. This counts instead: each app (Orderly as `orderly serve`
builds it on SQLite, with its defaults; `benchmarks/flat_reference.py`) is driven
in-process by `benchmarks/app_driver.py` under `valgrind --tool=callgrind`, once
with 0 and once with COUNT measured requests after the same start-up and warm-up,
on copies of the same fresh database; the difference over COUNT is the
instructions one request costs in the app, in every thread (Orderly's placement
writer included). Repeat runs agree to well under 1 %.

It leaves out what the two share: uvicorn's parsing and socket writes, and the
system calls themselves (callgrind counts user-space instructions). So the ratio
it prints, reference over Orderly, is lower than the throughput ratio of
`bench_http_orders` or compare.sh, and it is the figure to compare before and after
a change to the app. A POST here is a lone placement (no group commit: requests
come one at a time).

With `--storage postgres` both run on PostgreSQL instead: Orderly on a copy of one
prepared database (`CREATE DATABASE ... TEMPLATE`), the reference on an empty one of
its own per run, all named `bench_instr_<pid>...` and dropped at the end. What is
counted is then the Python side of a request (the key lookup, the placement's three
round trips and its pipeline, on the driver's side); the server's own work is in its
backends, outside callgrind, and so is the saga, which `serve` runs beside the app
there (this driver serves only, as ORDERLY_DELIVERY_APART asks).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks import callgrind
from benchmarks.bench_http_orders import REF_KEY, _pg_admin, _prepare


def _copy_db(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")


class _Postgres:
    """The run's databases on one server: a prepared one for Orderly, copied per run."""

    def __init__(self, pg_url: str) -> None:
        self.url = pg_url.rstrip("/")
        self.base = f"bench_instr_{os.getpid()}"
        self.created: list[str] = []

    def create(self, name: str, template: str | None = None) -> str:
        if template is None:
            _pg_admin(self.url, "CREATE DATABASE {}", name)
        else:
            _pg_admin(self.url, "CREATE DATABASE {} TEMPLATE {}", name, template)
        self.created.append(name)
        return f"{self.url}/{name}"

    def drop_all(self) -> None:
        for name in reversed(self.created):  # the template last: its copies first
            try:
                _pg_admin(self.url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)
            except Exception as exc:
                print(f"could not drop database {name}: {exc}", file=sys.stderr)


def _orderly_url(pg_url: str) -> str:
    return pg_url.replace("postgresql://", "postgresql+psycopg://", 1)


def _instructions(
    target: str, verb: str, count: int, work: Path, env: dict[str, str], pg: _Postgres | None
) -> int:
    """Instructions callgrind collects over one driver run on a fresh copy of the db."""
    run = Path(tempfile.mkdtemp(dir=work))
    env = dict(env)
    name = f"{pg.base}_{run.name.lower().replace('-', '_')}" if pg is not None else ""
    if target == "orderly":
        if pg is not None:
            env["ORDERLY_DATABASE_URL"] = _orderly_url(pg.create(name, template=pg.base))
        else:
            _copy_db(work / "orderly.db", run / "orderly.db")
            env["ORDERLY_DATABASE_URL"] = f"sqlite:///{run / 'orderly.db'}"
    else:
        if pg is not None:
            env["REF_PG"] = pg.create(name)
        else:
            env["REF_DB"] = str(run / "reference.db")
        env["BENCH_KEY"] = REF_KEY
    return callgrind.instructions(
        ["benchmarks.app_driver", target, verb, str(count)], env, f"{target} {verb} {count}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="measured requests per run")
    parser.add_argument("--storage", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--pg-url",
        default="postgresql://postgres@127.0.0.1:5432",
        help="a PostgreSQL server where this run may create and drop databases",
    )
    args = parser.parse_args()
    callgrind.require_valgrind()
    work = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    pg = _Postgres(args.pg_url) if args.storage == "postgres" else None
    try:
        if pg is not None:
            database = _orderly_url(pg.create(pg.base))
        else:
            database = f"sqlite:///{work / 'orderly.db'}"
        env = {
            **os.environ,
            "ORDERLY_DATABASE_URL": database,
            "ORDERLY_RATE_LIMIT_PER_MINUTE": "1000000000",  # as bench_http_orders serves it
        }
        key, _ = _prepare(env, work)
        env = {**env, "BENCH_KEY": key}
        cases = [(t, v) for v in ("get", "post") for t in ("orderly", "reference")]
        jobs = [(t, v, n) for t, v in cases for n in (0, args.count)]
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            results = pool.map(lambda j: _instructions(j[0], j[1], j[2], work, env, pg), jobs)
            counted = dict(zip(jobs, results, strict=True))
        per = {
            (t, v): (counted[t, v, args.count] - counted[t, v, 0]) / args.count for t, v in cases
        }
        print(
            f"instructions per request in the app (callgrind, {args.count} requests, "
            f"{args.storage})"
        )
        for verb in ("get", "post"):
            ours, ref = per["orderly", verb], per["reference", verb]
            print(
                f"{verb.upper():4} /v1/orders: orderly {ours:,.0f}  reference {ref:,.0f}  "
                f"reference/orderly {ref / ours:.2f}"
            )
    finally:
        if pg is not None:
            pg.drop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
