"""CSV import: `orderly products import` of ROWS products into a fresh SQLite file.

Measured in one run, on the same rows, in a fresh database each:

- orderly:    the real command through click's runner (`orderly db upgrade`, then
              `orderly products import FILE`): streaming parse, per-row validation,
              ImportProducts batches (products, stock, two outbox events per row).
- re-import:  the same file again (every row is an update that changes nothing).
- parse only: the CLI's streaming CSV parser with a no-op importer (the CLI's share).
- reference:  raw sqlite3 `executemany` of the same rows into products and stock
              tables shaped like Orderly's, in WAL mode, committed in the same
              batches: the floor for storing these rows at all (no validation,
              no events, no upsert).

Prints wall seconds, rows/second and this process's CPU seconds for each (CPU
time shows the work itself when other processes share the cores), and the
orderly/reference ratios. One run of each swings by a third on this disk (the
reference measured 0.43-0.70 s for 100,000 rows in one morning), so `--rounds`
(default 3) repeats everything on fresh databases, the reference and Orderly taking
turns to go first, and the result is the median of the rounds' ratios, as
compare.sh reports the HTTP figures.

    .venv/bin/python -m benchmarks.bench_import [--rows 100000] [--batch-size 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from core.use_cases.catalog import ImportReport, ProductRow
from entrypoints.cli.csv_import import import_csv
from entrypoints.cli.main import cli


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("sku,name,price,on_hand,active\n")
        for n in range(rows):
            out.write(f"SKU-{n:07d},Product number {n},{100 + n % 5000},{n % 250},true\n")


Timing = tuple[float, float]  # wall seconds, CPU seconds of this process


def _clock() -> Timing:
    return time.perf_counter(), time.process_time()


def _since(start: Timing) -> Timing:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def run_cli(url: str, *args: str) -> Timing:
    start = _clock()
    result = CliRunner().invoke(cli, list(args), env={"ORDERLY_DATABASE_URL": url})
    elapsed = _since(start)
    if result.exit_code != 0:
        raise SystemExit(f"orderly {' '.join(args)} failed:\n{result.output}")
    return elapsed


def parse_only(path: Path, batch_size: int) -> Timing:
    def importer(rows: Sequence[ProductRow], seen: set[str]) -> ImportReport:
        return ImportReport(accepted=len(rows))

    start = _clock()
    with path.open("rb") as stream:
        summary = import_csv(stream, importer, batch_size)
    elapsed = _since(start)
    assert not summary.rejected
    return elapsed


def reference(path: Path, db: Path, batch_size: int) -> Timing:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE products (sku VARCHAR(32) PRIMARY KEY, name VARCHAR(200) NOT NULL, "
        "price BIGINT NOT NULL, currency VARCHAR(3) NOT NULL, active BOOLEAN NOT NULL, "
        "version INTEGER NOT NULL, created_at VARCHAR NOT NULL, updated_at VARCHAR NOT NULL)"
    )
    conn.execute(
        "CREATE TABLE stock (sku VARCHAR(32) PRIMARY KEY REFERENCES products(sku), "
        "on_hand INTEGER NOT NULL, reserved INTEGER NOT NULL, version INTEGER NOT NULL)"
    )
    now = datetime.now(UTC).isoformat()
    start = _clock()
    with path.open(encoding="utf-8") as stream:
        next(stream)
        batch: list[list[str]] = []

        def flush() -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO products VALUES (?, ?, ?, 'EUR', 1, 1, ?, ?)",
                [(r[0], r[1], int(r[2]), now, now) for r in batch],
            )
            conn.executemany(
                "INSERT INTO stock VALUES (?, ?, 0, 1)", [(r[0], int(r[3])) for r in batch]
            )
            conn.execute("COMMIT")
            batch.clear()

        for line in stream:
            batch.append(line.rstrip("\n").split(","))
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
    elapsed = _since(start)
    conn.close()
    return elapsed


Round = dict[str, Timing]

LABELS = {
    "first": "orderly products import",
    "again": "  same file again",
    "parse": "  CLI parsing only",
    "reference": "reference: sqlite3 executemany",
}


def one_round(rows: int, batch_size: int, reference_first: bool) -> Round:
    """Every measurement once, each on a fresh database."""
    measured: Round = {}
    batch = str(batch_size)
    with tempfile.TemporaryDirectory(prefix="orderly-bench-import-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "products.csv"
        write_csv(csv_path, rows)
        url = f"sqlite:///{folder / 'orderly.db'}"
        run_cli(url, "db", "upgrade")

        def orderly() -> None:
            measured["first"] = run_cli(
                url, "products", "import", str(csv_path), "--batch-size", batch
            )
            measured["again"] = run_cli(
                url, "products", "import", str(csv_path), "--batch-size", batch
            )

        def floor() -> None:
            measured["reference"] = reference(csv_path, folder / "reference.db", batch_size)

        for step in (floor, orderly) if reference_first else (orderly, floor):
            step()
        measured["parse"] = parse_only(csv_path, batch_size)
    return measured


def report(rows: int, batch_size: int, rounds: list[Round]) -> str:
    out = io.StringIO()
    out.write(
        f"CSV import of {rows:,} rows into SQLite, batches of {batch_size}, "
        f"{len(rounds)} round(s), the reference and Orderly alternating which goes first\n"
    )
    wall_ratios = [r["first"][0] / r["reference"][0] for r in rounds]
    cpu_ratios = [r["first"][1] / r["reference"][1] for r in rounds]
    for number, (measured, wall, cpu) in enumerate(
        zip(rounds, wall_ratios, cpu_ratios, strict=True), 1
    ):
        out.write(f"round {number}{'':<24} {'wall':>8}    {'rows/s':>10}  {'CPU':>8}\n")
        for key, label in LABELS.items():
            took, used = measured[key]
            out.write(f"{label:<32} {took:8.2f} s  {rows / took:>10,.0f}  {used:8.2f} s\n")
        out.write(f"  ratio {wall:.1f}x the wall time, {cpu:.1f}x the CPU time\n")
    out.write(
        f"orderly / reference: {statistics.median(wall_ratios):.1f}x the wall time, "
        f"{statistics.median(cpu_ratios):.1f}x the CPU time "
        f"(medians of the rounds' ratios; wall {min(wall_ratios):.1f}-{max(wall_ratios):.1f}x)\n"
    )
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    rounds = [one_round(args.rows, args.batch_size, n % 2 == 0) for n in range(args.rounds)]
    print(report(args.rows, args.batch_size, rounds), end="")


if __name__ == "__main__":
    main()
