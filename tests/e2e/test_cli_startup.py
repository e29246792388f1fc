"""`orderly --help` stays fast: help imports no web framework, database or broker library.

Timing is measured in benchmarks/bench_cli_help.py; this test guards the cause
(what `--help` imports), which is deterministic.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("litestar", "sqlalchemy", "pika", "alembic", "uvicorn", "psycopg", "opentelemetry")

PROBE = """
import contextlib, io, json, sys
from entrypoints.cli.main import cli
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        cli.main(args=sys.argv[1:], prog_name="orderly")
    except SystemExit as exc:
        code = exc.code
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(HEAVY)))
print(json.dumps({"code": code, "heavy": heavy, "help": out.getvalue()}))
"""


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["worker"],
        ["relay"],
        ["db"],
        ["db", "upgrade"],
        ["users", "create"],
        ["products", "import"],
        ["stock", "adjust"],
        ["orders", "list"],
        ["outbox", "status"],
        ["dlq", "replay"],
    ],
    ids=lambda c: " ".join(c) or "orderly",
)
def test_help_imports_no_framework_database_or_broker(command: list[str]) -> None:
    probe = PROBE.replace("json.loads(HEAVY)", repr(list(HEAVY)))
    result = subprocess.run(
        [sys.executable, "-c", probe, *command, "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout)
    assert report["code"] == 0
    assert "Usage: orderly" in report["help"]
    assert report["heavy"] == []


def test_the_sql_unit_of_work_imports_no_postgresql_driver() -> None:
    """A SQLite process (the CLI's import, the embedded default) never pays for psycopg's
    import (about 0.2 s): only a PostgreSQL engine loads it."""
    probe = (
        "import sys, adapters.sql.unit_of_work, adapters.sql.pipelined_commit,"
        " adapters.sql.late_begin; print('psycopg' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
