"""CLI start-up: `orderly --help` and every subcommand's `--help` against a bare click program.

Each run is a fresh interpreter (what an operator pays per command). The
reference is a one-command click program's `--help`, started the same way,
interleaved with Orderly's runs so that machine load hits both alike. Prints
the median wall time of each and its ratio to the reference; the goal is at
most 3 x (lazy imports: a command pays only for what it runs).

    .venv/bin/python -m benchmarks.bench_cli_help [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

REFERENCE = """
import click

@click.command()
@click.option("--name", default="world", help="Who to greet.")
def hello(name: str) -> None:
    "Say hello."
    click.echo(f"hello {name}")

hello()
"""

ORDERLY = "from entrypoints.cli.main import main; main()"

COMMANDS: list[list[str]] = [
    [],
    ["serve"],
    ["worker"],
    ["relay"],
    ["db"],
    ["db", "upgrade"],
    ["users"],
    ["users", "create"],
    ["products"],
    ["products", "import"],
    ["stock"],
    ["orders"],
    ["orders", "list"],
    ["outbox"],
    ["dlq"],
]


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    python = sys.executable
    reference: list[float] = []
    timings: dict[str, list[float]] = {" ".join(["orderly", *c]): [] for c in COMMANDS}
    for _ in range(args.runs):
        for command in COMMANDS:
            reference.append(_time([python, "-c", REFERENCE, "--help"]))
            name = " ".join(["orderly", *command])
            timings[name].append(_time([python, "-c", ORDERLY, *command, "--help"]))
    ref = statistics.median(reference)
    print(f"{'command':<32} {'median ms':>10} {'x bare click':>13}")
    print(f"{'bare click --help (reference)':<32} {ref * 1000:>10.1f} {1.0:>13.2f}")
    worst = 0.0
    for name, samples in timings.items():
        median = statistics.median(samples)
        worst = max(worst, median / ref)
        print(f"{name + ' --help':<32} {median * 1000:>10.1f} {median / ref:>13.2f}")
    print(f"worst ratio: {worst:.2f} x (goal: <= 3 x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
