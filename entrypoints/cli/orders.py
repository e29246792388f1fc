"""`orderly orders`: see, ship and cancel orders; expire unpaid ones."""

from __future__ import annotations

from collections.abc import Iterator

import click

from core.domain.errors import InvalidTransition, NotFound
from core.domain.orders import OrderStatus
from core.ports.queries import OrderView
from core.use_cases.ordering import CancelOrderCommand, ShipOrderCommand
from core.use_cases.principals import find_principal
from core.use_cases.support import MAX_PAGE, Actor
from entrypoints.cli.hints import fix_hints
from entrypoints.cli.output import (
    console,
    echo_json_array,
    format_money,
    format_time,
    print_listing,
    table,
    view_dict,
)
from entrypoints.cli.support import container, echo_json, refusals

_UNKNOWN = "see `orderly orders list`"
_STATUSES = [s.value for s in OrderStatus]


def _customer_names() -> dict[str, str]:
    """Principal id -> name, to show people names instead of ids (one query)."""
    return {p.id: p.name for p in container().list_principals()()}


def _orders(status: str | None, customer_id: str | None, limit: int | None) -> Iterator[OrderView]:
    queries = container().order_queries()
    actor = Actor.operator()
    cursor: str | None = None
    remaining = limit
    while remaining is None or remaining > 0:
        size = MAX_PAGE if remaining is None else min(MAX_PAGE, remaining)
        page = queries.page(actor, status, customer_id, limit=size, cursor=cursor)
        yield from page.items
        if remaining is not None:
            remaining -= len(page.items)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@click.group()
def orders() -> None:
    """See every order, ship paid ones, cancel, and expire unpaid ones.

    Statuses: pending_payment -> paid -> shipped, and cancelled from either of
    the first two. Customers place orders through the HTTP API.
    """


@orders.command("list")
@click.option("--status", type=click.Choice(_STATUSES), help="Only orders in this status.")
@click.option("--customer", metavar="NAME", help="Only orders of this principal (by name).")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of orders.")
@refusals
def list_(status: str | None, customer: str | None, limit: int | None, as_json: bool) -> None:
    """List orders, newest first."""
    customer_id = None
    if customer is not None:
        with fix_hints({NotFound: "see `orderly users list`"}):
            customer_id = find_principal(container().queries(), customer).id
    found = _orders(status, customer_id, limit)
    if as_json:
        echo_json_array(view_dict(o) for o in found)
        return
    names = _customer_names()
    rows = [
        (
            o.id,
            names.get(o.customer_id, o.customer_id),
            o.status,
            sum(ln.quantity for ln in o.lines),
            format_money(o.total, o.currency),
            format_time(o.created_at),
        )
        for o in found
    ]
    if not rows:
        click.echo("No orders match.")
        return
    caption = f"{len(rows):,} order{'s' if len(rows) != 1 else ''}, newest first"
    print_listing(["ID", "Customer", "Status", ">Items", ">Total", "Created"], rows, caption)


@orders.command("show")
@click.argument("order_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the order as JSON (the API's shape).")
@refusals
def show(order_id: str, as_json: bool) -> None:
    """Show order ID with its lines and its event history."""
    queries = container().order_queries()
    with fix_hints({NotFound: _UNKNOWN}):
        order = queries.get(order_id, Actor.operator())
    if as_json:
        echo_json(view_dict(order))
        return
    customer = _customer_names().get(order.customer_id, "?")
    click.echo(f"Order {order.id}")
    click.echo(f"  status    {order.status}")
    if order.cancel_reason:
        click.echo(f"  reason    {order.cancel_reason}")
    click.echo(f"  customer  {customer} ({order.customer_id})")
    click.echo(f"  total     {format_money(order.total, order.currency)}")
    click.echo(f"  created   {format_time(order.created_at)}")
    click.echo(f"  updated   {format_time(order.updated_at)}  (version {order.version})")
    out = console()
    out.print(
        table(
            None,
            ["SKU", ">Quantity", ">Unit price", ">Line total"],
            [
                (
                    ln.sku,
                    ln.quantity,
                    format_money(ln.unit_price, order.currency),
                    format_money(ln.line_total, order.currency),
                )
                for ln in order.lines
            ],
        )
    )
    history = queries.events(order_id, Actor.operator())
    out.print(
        table(
            "History",
            ["When", "Event", "Detail"],
            [
                (format_time(e.occurred_at), e.type, str(e.payload.get("reason") or ""))
                for e in history
            ],
        )
    )


@orders.command("cancel")
@click.argument("order_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the order afterwards as JSON.")
@refusals
def cancel(order_id: str, as_json: bool) -> None:
    """Cancel order ID (reason admin_request).

    Its reserved stock is released; a paid order is refunded by the payment
    handler. Cancelling a cancelled order changes nothing; a shipped order
    cannot be cancelled.
    """
    c = container()
    with fix_hints({NotFound: _UNKNOWN, InvalidTransition: "shipped orders are final"}):
        result = c.cancel_order()(CancelOrderCommand(order_id, Actor.operator()))
    if as_json:
        echo_json(view_dict(result.value))
    elif not result.changed:
        click.echo(f"Order {order_id} was already cancelled ({result.value.cancel_reason}).")
    else:
        refund = " and its payment will be refunded" if result.refund_due else ""
        click.echo(f"Cancelled order {order_id}: its stock is released{refund}.")


@orders.command("ship")
@click.argument("order_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the order afterwards as JSON.")
@refusals
def ship(order_id: str, as_json: bool) -> None:
    """Ship paid order ID: its reserved units leave on_hand. Shipping twice is harmless."""
    c = container()
    hint = "only paid orders ship; check it with `orderly orders show`"
    with fix_hints({NotFound: _UNKNOWN, InvalidTransition: hint}):
        result = c.ship_order()(ShipOrderCommand(order_id, Actor.operator()))
    if as_json:
        echo_json(view_dict(result.value))
    elif not result.changed:
        click.echo(f"Order {order_id} was already shipped.")
    else:
        click.echo(f"Shipped order {order_id}.")


@orders.command("expire", short_help="Cancel orders unpaid past the payment timeout.")
@click.option("--json", "as_json", is_flag=True, help="Print {expired: N} as JSON.")
@refusals
def expire(as_json: bool) -> None:
    """Cancel orders still unpaid after ORDERLY_PAYMENT_TIMEOUT_SECONDS (reason payment_timeout).

    The worker runs this sweep periodically; run it here on demand. Their
    reserved stock is released.
    """
    c = container()
    expired = c.expire_orders()()
    if as_json:
        echo_json({"expired": expired})
        return
    timeout = c.config.payment_timeout_seconds()
    plural = "order" if expired == 1 else "orders"
    click.echo(f"Expired {expired} {plural} unpaid for more than {timeout} seconds.")


def register(cli: click.Group) -> None:
    """Add this family's commands to the `orderly` group."""
    cli.add_command(orders)
