"""How commands print: rich tables for people, JSON for scripts, money in a readable form.

JSON carries amounts as integers in minor units (the API's shape); only the
tables format money for reading.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields, is_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from entrypoints.cli.support import echo_json

if TYPE_CHECKING:  # rich loads when something is printed, not for --help
    from rich.console import Console
    from rich.table import Table

T = TypeVar("T")

# ISO 4217 currencies whose minor unit is not 1/100 (the rest use two decimals).
_EXPONENTS = {
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
            "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
}  # fmt: skip


def format_money(amount: int, currency: str) -> str:
    """1250, EUR -> '12.50 EUR' (never through a float)."""
    exponent = _EXPONENTS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    if exponent == 0:
        return f"{sign}{abs(amount):,} {currency}"
    whole, fraction = divmod(abs(amount), 10**exponent)
    return f"{sign}{whole:,}.{fraction:0{exponent}d} {currency}"


def format_time(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(sep=" ", timespec="seconds")


def console(stderr: bool = False) -> Console:
    """A console on the current stdout (or stderr), so click's test runner captures it.

    When the output is not a terminal, rich would fold tables at 80 columns and
    split ids; a wide fixed width keeps one row per line for `grep` and `less`.
    """
    from rich.console import Console

    out = Console(stderr=stderr, highlight=False, emoji=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = 200
    return out


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """Cells are plain text (a product named "[bold]" is printed as such, not as markup).

    A column whose name starts with '>' is right-aligned (numbers, money).
    """
    from rich.table import Table
    from rich.text import Text

    grid = Table(title=title, title_justify="left", header_style="bold")
    for name in columns:
        right = name.startswith(">")
        grid.add_column(name.lstrip(">"), justify="right" if right else "left", no_wrap=right)
    for row in rows:
        grid.add_row(*(Text(str(cell)) for cell in row))
    return grid


# Rich lays a table out cell by cell (about a millisecond a row): instant for a
# screenful, minutes for 100,000 products. Longer listings get plain aligned columns.
RICH_ROWS = 2000


def print_listing(
    columns: Sequence[str], rows: Sequence[Sequence[object]], caption: str | None = None
) -> None:
    """A table of `rows`: rich up to RICH_ROWS rows, plain aligned text beyond."""
    if len(rows) <= RICH_ROWS:
        grid = table(None, columns, rows)
        grid.caption = caption
        console().print(grid)
        return
    from rich.cells import cell_len

    names = [name.lstrip(">") for name in columns]
    right = [name.startswith(">") for name in columns]
    texts = [[str(cell) for cell in row] for row in rows]
    widths = [
        max([cell_len(names[i])] + [cell_len(row[i]) for row in texts]) for i in range(len(names))
    ]

    def line(cells: Sequence[str]) -> str:
        padded = []
        for cell, width, align_right in zip(cells, widths, right, strict=True):
            pad = " " * (width - cell_len(cell))
            padded.append(pad + cell if align_right else cell + pad)
        return "  ".join(padded).rstrip()

    click.echo(line(names))
    click.echo(line(["-" * width for width in widths]))
    for start in range(0, len(texts), 1000):
        click.echo("\n".join(line(row) for row in texts[start : start + 1000]))
    if caption:
        click.echo(caption)


def print_items(
    as_json: bool,
    items: Sequence[T],
    as_dict: Callable[[T], dict[str, Any]],
    empty: str,
    columns: Sequence[str],
    row: Callable[[T], Sequence[object]],
) -> None:
    """A whole listing: a JSON array for scripts, else `empty` or a table of one row each."""
    if as_json:
        echo_json([as_dict(item) for item in items])
    elif not items:
        click.echo(empty)
    else:
        print_listing(columns, [row(item) for item in items])


def print_secret(as_json: bool, data: dict[str, Any], summary: str, what: str, secret: str) -> None:
    """What was created with its credential (in `data` for scripts), which is stored hashed
    or sealed, so this is the only time it is shown."""
    if as_json:
        echo_json(data)
        return
    click.echo(summary)
    click.echo(f"{what} (shown once; store it now, it cannot be shown again):")
    click.echo(secret)


def echo_json_array(items: Iterable[dict[str, Any]]) -> None:
    """Stream a JSON array item by item, so a long listing never sits whole in memory."""
    click.echo("[", nl=False)
    for index, item in enumerate(items):
        click.echo(("," if index else "") + json.dumps(item, sort_keys=True), nl=False)
    click.echo("]")


def view_dict(view: Any) -> dict[str, Any]:
    """A core view row (a dataclass) as JSON-ready data, field for field: the API's shape
    (nested rows as objects, times in ISO 8601), with no field list to keep in step."""
    return {field.name: _plain(getattr(view, field.name)) for field in fields(view)}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [view_dict(item) if is_dataclass(item) else _plain(item) for item in value]
    return value
