"""Refusals that also say how to fix them: the core says what was wrong, the
command adds where to look next (one line, exit 1)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import click

from core.domain.errors import DomainError


@contextmanager
def fix_hints(hints: Mapping[type[DomainError], str]) -> Iterator[None]:
    """Re-raise a matching domain error as one line: '<detail>; <hint>'."""
    try:
        yield
    except DomainError as exc:
        for kind, hint in hints.items():
            if isinstance(exc, kind):
                raise click.ClickException(f"{exc.detail}; {hint}") from None
        raise
