"""Run every benchmark script in this folder in turn (`make bench`)."""

from __future__ import annotations

import pathlib
import subprocess
import sys


def main() -> int:
    failures = 0
    for script in sorted(pathlib.Path(__file__).parent.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        result = subprocess.run([sys.executable, "-m", f"benchmarks.{script.stem}"], check=False)
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
