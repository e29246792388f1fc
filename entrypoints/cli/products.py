"""`orderly` commands: products (to be written)."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Add this family's commands to the `orderly` group."""
