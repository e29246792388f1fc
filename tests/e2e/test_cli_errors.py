"""Configuration and dependency failures end in one line naming what to fix, never a
traceback; --help works whatever the configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from entrypoints.cli.main import cli
from tests.e2e.cli_harness import sqlite_url


def _run(env: dict[str, str], *args: str) -> Result:
    """A run as from the shell: the container is built from the environment."""
    return CliRunner().invoke(cli, list(args), env=env)


def _one_line_refusal(result: Result) -> str:
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-directory/orderly.db",
        "postgresql+psycopg://postgres@127.0.0.1:1/orderly",  # nothing listens on port 1
    ],
)
def test_an_unreachable_database_names_the_variable(url: str) -> None:
    line = _one_line_refusal(_run({"ORDERLY_DATABASE_URL": url}, "products", "list"))
    assert "ORDERLY_DATABASE_URL" in line


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ORDERLY_DATABASE_URL": "mysql://db/orderly"}, "ORDERLY_DATABASE_URL"),
        ({"ORDERLY_CURRENCY": "euro"}, "ORDERLY_CURRENCY"),
        ({"ORDERLY_PAYMENT_TIMEOUT_SECONDS": "soon"}, "ORDERLY_PAYMENT_TIMEOUT_SECONDS"),
    ],
)
def test_a_malformed_variable_is_named(env: dict[str, str], variable: str) -> None:
    line = _one_line_refusal(_run(env, "users", "list"))
    assert variable in line


def test_an_unmigrated_database_says_to_upgrade_then_works(tmp_path: Path) -> None:
    env = {"ORDERLY_DATABASE_URL": sqlite_url(tmp_path)}
    line = _one_line_refusal(_run(env, "products", "list"))
    assert "orderly db upgrade" in line
    upgraded = _run(env, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    added = _run(env, "products", "add", "MUG-01", "Coffee mug", "1250", "--on-hand", "3")
    assert added.exit_code == 0, added.output
    # A separate run, as a separate process would: the product is in the file.
    listed = _run(env, "products", "list", "--json")
    assert [p["sku"] for p in json.loads(listed.stdout)] == ["MUG-01"]


COMMANDS = [
    ["users", "create"], ["users", "list"], ["users", "revoke"],
    ["products", "add"], ["products", "list"], ["products", "import"],
    ["products", "set-price"], ["products", "deactivate"], ["products", "activate"],
    ["stock", "show"], ["stock", "set"], ["stock", "adjust"],
    ["orders", "list"], ["orders", "show"], ["orders", "cancel"], ["orders", "ship"],
    ["orders", "expire"],
]  # fmt: skip


@pytest.mark.parametrize("command", [[], ["users"], ["products"], ["stock"], ["orders"], *COMMANDS])
def test_help_needs_no_configuration(command: list[str]) -> None:
    result = _run({"ORDERLY_DATABASE_URL": "mysql://not/used"}, *command, "--help")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: ")
    summary = result.stdout.split("\n\n")[1].strip()
    assert len(summary) > 20  # a sentence a newcomer can follow, not just the usage line


READS_AND_CREATES = [
    ["users", "create"], ["users", "list"], ["products", "add"], ["products", "list"],
    ["products", "import"], ["stock", "show"], ["orders", "list"], ["orders", "show"],
]  # fmt: skip


@pytest.mark.parametrize("command", READS_AND_CREATES)
def test_read_and_create_commands_offer_json(command: list[str]) -> None:
    assert "--json" in _run({}, *command, "--help").stdout
