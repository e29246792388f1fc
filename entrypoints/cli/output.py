"""How commands print: rich tables for people, JSON for scripts, money in a readable form.

JSON carries amounts as integers in minor units (the API's shape); only the
tables format money for reading.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from core.ports.queries import OrderView, PrincipalView, ProductView, StockView
from core.use_cases.views import order_view_to_dict

if TYPE_CHECKING:  # rich loads when something is printed, not for --help
    from rich.console import Console
    from rich.table import Table

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


def echo_json_array(items: Iterable[dict[str, Any]]) -> None:
    """Stream a JSON array item by item, so a long listing never sits whole in memory."""
    click.echo("[", nl=False)
    for index, item in enumerate(items):
        click.echo(("," if index else "") + json.dumps(item, sort_keys=True), nl=False)
    click.echo("]")


def product_dict(view: ProductView) -> dict[str, Any]:
    return {
        "sku": view.sku,
        "name": view.name,
        "price": view.price,
        "currency": view.currency,
        "active": view.active,
        "available": view.available,
        "created_at": view.created_at.isoformat(),
        "updated_at": view.updated_at.isoformat(),
        "version": view.version,
    }


def stock_dict(view: StockView) -> dict[str, Any]:
    return {
        "sku": view.sku,
        "on_hand": view.on_hand,
        "reserved": view.reserved,
        "available": view.available,
    }


def principal_dict(view: PrincipalView) -> dict[str, Any]:
    return {
        "id": view.id,
        "name": view.name,
        "role": view.role,
        "active": view.active,
        "created_at": view.created_at.isoformat(),
        "revoked_at": view.revoked_at.isoformat() if view.revoked_at else None,
    }


def order_dict(view: OrderView) -> dict[str, Any]:
    """The same shape as an order in the HTTP API."""
    return order_view_to_dict(view)
