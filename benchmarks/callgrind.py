"""Counting a Python program's instructions with callgrind, for the `*_instructions`
benchmarks: wall-clock figures on this machine swing more than most changes are worth."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def require_valgrind() -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind: apt-get install valgrind")


def instructions(module_args: list[str], env: Mapping[str, str], what: str) -> int:
    """User-space instructions of `python -m MODULE ARGS...` run from the project root
    under callgrind, all threads; `what` names the run if it fails."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, "-m", *module_args],
        env={**env, "PYTHONHASHSEED": "0"}, cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    return int(found.group(1))
