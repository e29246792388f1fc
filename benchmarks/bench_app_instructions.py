"""Instructions per request in the app: Orderly's against the flat reference's, exactly.

    .venv/bin/python -m benchmarks.bench_app_instructions [--count 1000]

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
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.bench_http_orders import REF_KEY, _prepare

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _copy_db(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")


def _instructions(target: str, verb: str, count: int, work: Path, env: dict[str, str]) -> int:
    """Instructions callgrind collects over one driver run on a fresh copy of the db."""
    run = Path(tempfile.mkdtemp(dir=work))
    env = {**env, "PYTHONHASHSEED": "0"}
    if target == "orderly":
        _copy_db(work / "orderly.db", run / "orderly.db")
        env["ORDERLY_DATABASE_URL"] = f"sqlite:///{run / 'orderly.db'}"
    else:
        env["REF_DB"] = str(run / "reference.db")
        env["BENCH_KEY"] = REF_KEY
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         PYTHON, "-m", "benchmarks.app_driver", target, verb, str(count)],
        env=env, cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{target} {verb} {count} failed:\n{done.stderr[-3000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="measured requests per run")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind: apt-get install valgrind")
    work = Path(tempfile.mkdtemp(prefix="bench-instructions-"))
    try:
        env = {
            **os.environ,
            "ORDERLY_DATABASE_URL": f"sqlite:///{work / 'orderly.db'}",
            "ORDERLY_RATE_LIMIT_PER_MINUTE": "1000000000",  # as bench_http_orders serves it
        }
        key, _ = _prepare(env, work)
        env = {**env, "BENCH_KEY": key}
        cases = [(t, v) for v in ("get", "post") for t in ("orderly", "reference")]
        jobs = [(t, v, n) for t, v in cases for n in (0, args.count)]
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            results = pool.map(lambda j: _instructions(j[0], j[1], j[2], work, env), jobs)
            counted = dict(zip(jobs, results, strict=True))
        per = {
            (t, v): (counted[t, v, args.count] - counted[t, v, 0]) / args.count for t, v in cases
        }
        print(f"instructions per request in the app (callgrind, {args.count} requests)")
        for verb in ("get", "post"):
            ours, ref = per["orderly", verb], per["reference", verb]
            print(
                f"{verb.upper():4} /v1/orders: orderly {ours:,.0f}  reference {ref:,.0f}  "
                f"reference/orderly {ref / ours:.2f}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
