"""`orderly users`: create (key shown once), list (never keys), revoke (key fails at once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.system import FixedClock
from core.domain.errors import AuthenticationFailed
from core.domain.principals import Role
from tests.e2e.cli_harness import STORAGES, Cli, close, make_container


@pytest.fixture(params=STORAGES)
def cli(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Cli]:
    container = make_container(request.param, tmp_path, clock)
    yield Cli(container)
    close(container)


def test_create_prints_a_working_key_once(cli: Cli) -> None:
    out = cli.ok("users", "create", "alice", "--role", "customer")
    lines = out.splitlines()
    assert lines[0].startswith("Created customer alice (id ")
    assert "shown once" in lines[1]
    key = lines[2]
    actor = cli.container.authenticate()(key)
    assert actor.role is Role.CUSTOMER
    assert actor.principal_id in lines[0]


def test_create_json_has_exactly_id_name_role_and_key(cli: Cli) -> None:
    created = cli.json("users", "create", "ops", "--role", "admin")
    assert set(created) == {"id", "name", "role", "api_key"}
    assert (created["name"], created["role"]) == ("ops", "admin")
    assert len(created["api_key"]) >= 43  # 32 random bytes, base64url
    actor = cli.container.authenticate()(created["api_key"])
    assert (actor.principal_id, actor.role) == (created["id"], Role.ADMIN)


def test_a_taken_name_is_refused(cli: Cli) -> None:
    cli.ok("users", "create", "alice", "--role", "customer")
    message = cli.refused("users", "create", "alice", "--role", "admin")
    assert "alice already exists" in message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["bad name", "--role", "customer"], "Invalid value for 'NAME'"),
        (["alice"], "Missing option '--role'"),
        (["alice", "--role", "root"], "Invalid value for '--role'"),
    ],
)
def test_bad_arguments_are_usage_errors(cli: Cli, args: list[str], expected: str) -> None:
    assert expected in cli.bad_usage("users", "create", *args)
    assert cli.json("users", "list") == []


def test_list_shows_names_roles_and_never_keys(cli: Cli) -> None:
    keys = [
        cli.json("users", "create", name, "--role", role)["api_key"]
        for name, role in [("zoe", "customer"), ("admin1", "admin")]
    ]
    table = cli.ok("users", "list")
    assert "admin1" in table and "zoe" in table and "customer" in table
    listed = cli.json("users", "list")
    assert [p["name"] for p in listed] == ["admin1", "zoe"]
    assert set(listed[0]) == {"id", "name", "role", "active", "created_at", "revoked_at"}
    assert listed[0]["active"] is True and listed[0]["revoked_at"] is None
    for key in keys:
        assert key not in table
        assert key not in cli.ok("users", "list", "--json")


def test_list_with_nobody_says_how_to_start(cli: Cli) -> None:
    assert "orderly users create" in cli.ok("users", "list")


def test_revoke_makes_the_key_fail_at_once(cli: Cli) -> None:
    key = cli.json("users", "create", "alice", "--role", "customer")["api_key"]
    assert "Revoked alice" in cli.ok("users", "revoke", "alice")
    with pytest.raises(AuthenticationFailed):
        cli.container.authenticate()(key)
    [alice] = cli.json("users", "list")
    assert alice["active"] is False and alice["revoked_at"] is not None
    assert "revoked" in cli.ok("users", "list")
    # Revoking again is harmless; an unknown name is refused with a pointer.
    assert "already revoked" in cli.ok("users", "revoke", "alice")
    assert (
        cli.refused("users", "revoke", "bob") == "no principal named bob; see `orderly users list`"
    )
