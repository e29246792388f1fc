"""Instructions per imported row: `orderly products import` against the raw executemany
floor, exactly.

    .venv/bin/python -m benchmarks.bench_import_instructions [--rows 10000] [--base 1000]

Needs valgrind (`apt-get install valgrind`). `bench_import` times the same two things
in wall and CPU seconds, and on this machine one run of either swings by a third.
This counts instead: each side runs under `valgrind --tool=callgrind` on a fresh
SQLite file, once with BASE rows and once with BASE + ROWS (the CSV rows
`bench_import` writes), and the difference over ROWS is what one row costs, start-up
and the schema left out. Orderly's side is the real command through click's runner
(`orderly db upgrade`, then `orderly products import FILE`), as `bench_import` runs
it; the reference is `bench_import.reference`: sqlite3 `executemany` into products
and stock tables shaped like Orderly's, in the same batches. Repeat runs agree to
well under 1 %, so this is the figure to compare before and after a change to the
import's path. It counts user-space instructions only: the disk's share (the WAL
writes, their system calls) is in `bench_import`'s wall times, not here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks import callgrind


def _drive(side: str, csv_path: Path, folder: Path) -> None:
    """One import, in this process (the run that callgrind counts)."""
    from benchmarks.bench_import import reference, run_cli

    if side == "orderly":
        url = f"sqlite:///{folder / 'orderly.db'}"
        run_cli(url, "db", "upgrade")
        run_cli(url, "products", "import", str(csv_path), "--batch-size", "1000")
    else:
        reference(csv_path, folder / "reference.db", 1000)


def _instructions(side: str, csv_path: Path, work: Path) -> int:
    folder = Path(tempfile.mkdtemp(dir=work))
    return callgrind.instructions(
        ["benchmarks.bench_import_instructions", "--drive", side, str(csv_path), str(folder)],
        os.environ,
        f"{side} import of {csv_path.name}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=10_000, help="rows counted")
    parser.add_argument("--base", type=int, default=1_000, help="rows of the run subtracted")
    parser.add_argument("--drive", nargs=3, metavar=("SIDE", "CSV", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        side, csv_path, folder = args.drive
        _drive(side, Path(csv_path), Path(folder))
        return
    if args.rows < 1 or args.base < 1:
        parser.error("--rows and --base must be at least 1")
    callgrind.require_valgrind()
    from benchmarks.bench_import import write_csv

    work = Path(tempfile.mkdtemp(prefix="bench-import-instructions-"))
    try:
        sizes = (args.base, args.base + args.rows)
        for size in sizes:
            write_csv(work / f"{size}.csv", size)
        jobs = [(side, size) for side in ("orderly", "reference") for size in sizes]
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            counts = list(
                pool.map(lambda job: _instructions(job[0], work / f"{job[1]}.csv", work), jobs)
            )
        counted = dict(zip(jobs, counts, strict=True))
        per = {
            side: (counted[side, sizes[1]] - counted[side, sizes[0]]) / args.rows
            for side in ("orderly", "reference")
        }
        print(
            f"instructions per imported row (callgrind, {args.base + args.rows:,} minus "
            f"{args.base:,} rows, SQLite, batches of 1000)"
        )
        print(
            f"orderly {per['orderly']:,.0f}  reference {per['reference']:,.0f}  "
            f"orderly/reference {per['orderly'] / per['reference']:.1f}x"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
