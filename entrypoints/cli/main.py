"""`orderly`: the operator's command line. Each command family lives in its own module."""

from __future__ import annotations

import click

from entrypoints.cli import db, messaging, orders, products, serve, stock, users, webhooks
from entrypoints.cli.support import CliState


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="orderly")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Run and administer an Orderly store.

    Configuration comes from ORDERLY_* environment variables (see README);
    by default the store is the SQLite file orderly.db in this directory.
    Start with `orderly db upgrade`, then `orderly users create NAME --role admin`.

    Exit status: 0 done; 1 refused (one line on stderr says why and what to
    do); 2 bad usage. Read commands take --json for scripts.
    """
    ctx.ensure_object(CliState)


for family in (db, serve, users, products, stock, orders, messaging, webhooks):
    family.register(cli)


def main() -> None:
    cli(prog_name="orderly")
