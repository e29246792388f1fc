"""`orderly users`: principals (API callers) and their keys."""

from __future__ import annotations

import click

from core.domain.errors import AlreadyExists, NotFound
from entrypoints.cli.hints import fix_hints
from entrypoints.cli.output import format_time, print_items, print_secret, view_dict
from entrypoints.cli.params import PRINCIPAL_NAME
from entrypoints.cli.support import container, refusals

_LIST_HINT = "see `orderly users list`"


@click.group()
def users() -> None:
    """Create, list and revoke the principals that may call the API.

    Each principal has a unique name, a role (admin or customer) and one API key,
    sent as `Authorization: Bearer KEY`. Only a hash of the key is stored.
    """


@users.command("create")
@click.argument("name", type=PRINCIPAL_NAME)
@click.option(
    "--role",
    type=click.Choice(["admin", "customer"]),
    required=True,
    help="admin manages products, stock and every order; customer places its own orders.",
)
@click.option("--json", "as_json", is_flag=True, help="Print {id, name, role, api_key} as JSON.")
@refusals
def create(name: str, role: str, as_json: bool) -> None:
    """Create principal NAME and print its API key (shown this once only).

    NAME is 1-64 letters, digits, '.', '_', '@' or '-'. Store the key right away:
    it cannot be shown again; if it is lost, revoke NAME and create a new principal.

    \b
    Example:
      orderly users create alice --role customer
    """
    with fix_hints({AlreadyExists: "choose another name, or revoke the old one"}):
        created = container().create_principal()(name, role)
    data = {"id": created.id, "name": created.name, "role": created.role.value,
            "api_key": created.api_key}  # fmt: skip
    summary = f"Created {created.role.value} {created.name} (id {created.id})."
    print_secret(as_json, data, summary, "API key", created.api_key)


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of principals.")
@refusals
def list_(as_json: bool) -> None:
    """List principals by name, with role and status. Keys are never shown."""
    print_items(
        as_json,
        container().list_principals()(),
        view_dict,
        "No principals yet. Create one with: orderly users create NAME --role admin",
        ["Name", "Role", "Status", "Created", "ID"],
        lambda p: (
            p.name,
            p.role,
            "active" if p.active else f"revoked {format_time(p.revoked_at)}",
            format_time(p.created_at),
            p.id,
        ),
    )


@users.command("revoke")
@click.argument("name", type=PRINCIPAL_NAME)
@refusals
def revoke(name: str) -> None:
    """Revoke NAME's API key: every request with it is refused from now on (401).

    Revoking twice is harmless. A revoked principal cannot be restored;
    create a new one (under another name) instead.
    """
    with fix_hints({NotFound: _LIST_HINT}):
        changed = container().revoke_principal()(name)
    if changed:
        click.echo(f"Revoked {name}: its API key no longer works.")
    else:
        click.echo(f"{name} was already revoked; nothing changed.")


def register(cli: click.Group) -> None:
    """Add this family's commands to the `orderly` group."""
    cli.add_command(users)
