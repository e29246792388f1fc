"""`orderly products`: the catalogue."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import click

from core.domain.errors import AlreadyExists, DomainError, NotFound
from core.ports.errors import ConcurrencyConflict, DependencyUnavailable
from core.ports.queries import ProductView
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.catalog import UpdateProductCommand as Update
from core.use_cases.support import MAX_PAGE
from entrypoints.cli.csv_import import (
    DEFAULT_BATCH,
    ImportFileError,
    ImportStopped,
    ImportSummary,
    import_csv,
)
from entrypoints.cli.hints import fix_hints
from entrypoints.cli.output import (
    console,
    echo_json_array,
    format_money,
    print_listing,
    view_dict,
)
from entrypoints.cli.params import PRICE, PRODUCT_NAME, QUANTITY, SKU
from entrypoints.cli.support import container, echo_json, refusals, unavailable_message
from entrypoints.heap import young_collections_spaced

_LIST_HINT = "see `orderly products list`"


@click.group()
def products() -> None:
    """Add, list, import and change catalogue products.

    Prices are integers in minor units of the store currency (ORDERLY_CURRENCY,
    default EUR): 1250 means 12.50. A SKU is 2-32 characters of A-Z, 0-9 and '-'.
    """


@products.command("add")
@click.argument("sku", type=SKU)
@click.argument("name", type=PRODUCT_NAME)
@click.argument("price", type=PRICE)
@click.option("--on-hand", type=QUANTITY, default=0, show_default=True, help="Initial stock.")
@click.option("--inactive", is_flag=True, help="Create it hidden: it cannot be ordered yet.")
@click.option("--json", "as_json", is_flag=True, help="Print the new product as JSON.")
@refusals
def add(sku: str, name: str, price: int, on_hand: int, inactive: bool, as_json: bool) -> None:
    """Add product SKU called NAME at PRICE (minor units).

    \b
    Example (12.50 EUR, 40 in stock):
      orderly products add MUG-01 "Coffee mug" 1250 --on-hand 40
    """
    c = container()
    with fix_hints({AlreadyExists: "change it with `orderly products set-price` instead"}):
        view = c.create_product()(CreateProductCommand(sku, name, price, not inactive, on_hand))
    if as_json:
        echo_json(view_dict(view))
        return
    state = "active" if view.active else "inactive (cannot be ordered)"
    click.echo(
        f"Added {view.sku} {view.name!r} at {format_money(view.price, view.currency)}, "
        f"{view.available} available, {state}."
    )


def _all_products(active: bool | None) -> Iterator[ProductView]:
    queries = container().product_queries()
    cursor: str | None = None
    while True:
        page = queries.page(active, limit=MAX_PAGE, cursor=cursor)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@products.command("list")
@click.option(
    "--active/--inactive",
    default=None,
    help="Only active (orderable) or only inactive products. Default: all.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of every product.")
@refusals
def list_(active: bool | None, as_json: bool) -> None:
    """List every product by SKU, with price and available stock (all pages)."""
    if as_json:
        echo_json_array(view_dict(p) for p in _all_products(active))
        return
    rows = [
        (
            p.sku,
            p.name,
            format_money(p.price, p.currency),
            p.available,
            "yes" if p.active else "no",
        )
        for p in _all_products(active)
    ]
    if not rows:
        click.echo("No products match. Add one with `orderly products add` or `import`.")
        return
    caption = f"{len(rows):,} product{'s' if len(rows) != 1 else ''}"
    print_listing(["SKU", "Name", ">Price", ">Available", "Active"], rows, caption)


# ignore_unknown_options: a negative PRICE gets its own message, not "no such option".
@products.command("set-price", context_settings={"ignore_unknown_options": True})
@click.argument("sku", type=SKU)
@click.argument("price", type=PRICE)
@refusals
def set_price(sku: str, price: int) -> None:
    """Set the price of SKU to PRICE (minor units). Orders already placed keep their price."""
    c = container()
    with fix_hints({NotFound: _LIST_HINT}):
        view = c.update_product()(Update(sku, price=price)).value
    click.echo(f"{sku} now costs {format_money(view.price, view.currency)}.")


@products.command("deactivate")
@click.argument("sku", type=SKU)
@refusals
def deactivate(sku: str) -> None:
    """Stop selling SKU: new orders for it are refused; placed orders are not touched."""
    with fix_hints({NotFound: _LIST_HINT}):
        container().update_product()(Update(sku, active=False))
    click.echo(f"{sku} is inactive: it can no longer be ordered (`orderly products activate`).")


@products.command("activate")
@click.argument("sku", type=SKU)
@refusals
def activate(sku: str) -> None:
    """Sell SKU again after `deactivate`."""
    with fix_hints({NotFound: _LIST_HINT}):
        container().update_product()(Update(sku, active=True))
    click.echo(f"{sku} is active: it can be ordered.")


class _Bar:
    """A rich progress bar on stderr, sized by the file's bytes (rows are not known ahead)."""

    def __init__(self, total_bytes: int) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]importing"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[lines]:,} lines"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task("import", total=total_bytes, lines=0)

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, bytes_read: int, lines: int) -> None:
        self._progress.update(self._task, completed=bytes_read, lines=lines)


def _report(file: Path, summary: ImportSummary, as_json: bool) -> None:
    if as_json:
        echo_json(
            {
                "file": str(file),
                "accepted": summary.accepted,
                "rejected": [{"line": n, "reason": r} for n, r in summary.rejected],
            }
        )
        return
    name = file.name
    click.echo(
        f"Imported {name}: {summary.accepted:,} row{'s' if summary.accepted != 1 else ''} "
        f"accepted, {len(summary.rejected):,} rejected."
    )
    if summary.rejected:
        click.echo("Rejected rows:")
        for line, reason in summary.rejected:
            click.echo(f"  line {line}: {reason}")


@products.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=DEFAULT_BATCH,
    show_default=True,
    help="Rows per transaction.",
)
@click.option("--json", "as_json", is_flag=True, help="Print {file, accepted, rejected} as JSON.")
@refusals
def import_(file: Path, batch_size: int, as_json: bool) -> None:
    """Create or update products from FILE, a UTF-8 CSV file.

    \b
    The first line is the header: sku,name,price,on_hand[,active]
      price    integer, minor units (1250 = 12.50)
      on_hand  integer >= 0; it replaces the current stock count
      active   true/false (also yes/no, 1/0); empty or absent means true
    A known SKU is updated, a new one created: importing the same file twice
    changes nothing the second time.

    Rows commit in batches; a bad row (bad SKU, negative price, non-integer,
    missing column, SKU repeated in the file, bytes that are not UTF-8) is
    rejected on its own, with its line number, and every good row still lands.
    Exit status 0 when every row was accepted, 1 when any was rejected.
    """
    importer = container().import_products()
    show_bar = not as_json and console(stderr=True).is_terminal
    try:
        with file.open("rb") as stream, young_collections_spaced():
            if show_bar:
                with _Bar(os.fstat(stream.fileno()).st_size) as bar:
                    summary = import_csv(stream, importer, batch_size, bar.update)
            else:
                summary = import_csv(stream, importer, batch_size)
    except ImportFileError as exc:
        raise click.ClickException(f"{file}: {exc}; nothing was imported") from None
    except ImportStopped as stop:
        if not isinstance(stop.cause, DomainError | DependencyUnavailable | ConcurrencyConflict):
            raise stop.cause from None
        stop.summary.rejected.sort()
        _report(file, stop.summary, as_json)
        cause = stop.cause
        if isinstance(cause, DependencyUnavailable):
            detail = unavailable_message(cause)
        else:
            detail = cause.detail if isinstance(cause, DomainError) else str(cause)
        raise click.ClickException(
            f"import stopped at line {stop.first_line}: {detail}; {stop.summary.accepted} rows "
            "before it were saved; fix the cause and run the same file again (saved rows are "
            "updated, not duplicated)"
        ) from None
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from None
    _report(file, summary, as_json)
    if summary.rejected:
        raise click.ClickException(
            f"{len(summary.rejected)} of {summary.accepted + len(summary.rejected)} rows were "
            f"rejected (listed with their line numbers); fix them and import {file.name} again "
            "(accepted rows are updated, not duplicated)"
        )


def register(cli: click.Group) -> None:
    """Add this family's commands to the `orderly` group."""
    cli.add_command(products)
