"""`orderly stock`: on-hand counts. Reserved units belong to open orders."""

from __future__ import annotations

import click

from core.domain.errors import NotFound, StockBelowReserved
from core.ports.queries import StockView
from core.use_cases.inventory import AdjustStockCommand, SetStockCommand
from entrypoints.cli.hints import fix_hints
from entrypoints.cli.output import view_dict
from entrypoints.cli.params import DELTA, QUANTITY, SKU
from entrypoints.cli.support import container, echo_json, refusals

_UNKNOWN = "see `orderly products list`"
_RESERVED = "ship or cancel the orders holding it first (`orderly orders list`)"


def _describe(view: StockView) -> str:
    return (
        f"{view.sku}: {view.on_hand} on hand, {view.reserved} reserved, {view.available} available"
    )


@click.group()
def stock() -> None:
    """Show and change stock counts.

    available = on_hand - reserved. Placing an order reserves units, cancelling
    releases them, shipping removes them from on_hand. on_hand can never drop
    below what is reserved.
    """


@stock.command("show")
@click.argument("sku", type=SKU)
@click.option("--json", "as_json", is_flag=True, help="Print {sku, on_hand, reserved, available}.")
@refusals
def show(sku: str, as_json: bool) -> None:
    """Show on-hand, reserved and available units of SKU."""
    with fix_hints({NotFound: _UNKNOWN}):
        view = container().product_queries().stock(sku)
    if as_json:
        echo_json(view_dict(view))
    else:
        click.echo(_describe(view))


# ignore_unknown_options: a negative ON_HAND gets its own message, not "no such option".
@stock.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("sku", type=SKU)
@click.argument("on_hand", type=QUANTITY)
@refusals
def set_(sku: str, on_hand: int) -> None:
    """Set the on-hand count of SKU to ON_HAND (after a stock-take, say).

    Refused when ON_HAND is below the units reserved by open orders.
    """
    c = container()
    with fix_hints({NotFound: _UNKNOWN, StockBelowReserved: _RESERVED}):
        view = c.set_stock()(SetStockCommand(sku, on_hand))
    click.echo(_describe(view))


# ignore_unknown_options lets a negative DELTA through as an argument, not an option.
@stock.command("adjust", context_settings={"ignore_unknown_options": True})
@click.argument("sku", type=SKU)
@click.argument("delta", type=DELTA)
@click.option("--reason", required=True, help="Why (1-200 characters), kept with the change.")
@refusals
def adjust(sku: str, delta: int, reason: str) -> None:
    """Add DELTA units to SKU's on-hand count (negative to remove).

    \b
    Examples:
      orderly stock adjust MUG-01 24 --reason "delivery 2024-06-01"
      orderly stock adjust MUG-01 -2 --reason "broken in the warehouse"
    """
    c = container()
    hint = f"check the counts with `orderly stock show {sku}`"
    with fix_hints({NotFound: _UNKNOWN, StockBelowReserved: hint}):
        view = c.adjust_stock()(AdjustStockCommand(sku, delta, reason))
    click.echo(_describe(view))


def register(cli: click.Group) -> None:
    """Add this family's commands to the `orderly` group."""
    cli.add_command(stock)
