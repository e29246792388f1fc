"""`orderly orders`: list (filters, every page), show, ship, cancel, expire."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.system import FixedClock
from tests.e2e.cli_harness import STORAGES, Cli, close, customer, make_container
from tests.payments_ledger import LedgerReader

ORDER_KEYS = {
    "id", "customer_id", "status", "lines", "total", "currency", "cancel_reason",
    "created_at", "updated_at", "version",
}  # fmt: skip


def _shop(storage: str, tmp_path: Path, clock: FixedClock, deliver: bool) -> Cli:
    cli = Cli(make_container(storage, tmp_path, clock, deliver=deliver), deliver=deliver)
    cli.ok("products", "add", "MUG-01", "Coffee mug", "1250", "--on-hand", "10")
    cli.ok("products", "add", "TEE-1", "T-shirt", "1999", "--on-hand", "10")
    return cli


@pytest.fixture(params=STORAGES)
def cli(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Cli]:
    """Payments complete as soon as an order is placed."""
    cli = _shop(request.param, tmp_path, clock, deliver=True)
    yield cli
    close(cli.container)


@pytest.fixture(params=STORAGES)
def unpaid(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Cli]:
    """No event delivery: placed orders stay pending_payment."""
    cli = _shop(request.param, tmp_path, clock, deliver=False)
    yield cli
    close(cli.container)


def _stock(cli: Cli, sku: str) -> dict[str, Any]:
    stock: dict[str, Any] = cli.json("stock", "show", sku)
    return stock


def test_list_newest_first_with_filters(cli: Cli, clock: FixedClock) -> None:
    alice, bob = customer(cli, "alice"), customer(cli, "bob")
    first = cli.place_order(alice, ("MUG-01", 1))
    clock.advance(1)
    second = cli.place_order(bob, ("MUG-01", 2), ("TEE-1", 1))
    clock.advance(1)
    third = cli.place_order(alice, ("TEE-1", 3))
    cli.ok("orders", "ship", first.id)

    listed = cli.json("orders", "list")
    assert [o["id"] for o in listed] == [third.id, second.id, first.id]
    assert set(listed[0]) == ORDER_KEYS
    assert listed[1]["lines"] == [
        {"sku": "MUG-01", "quantity": 2, "unit_price": 1250, "line_total": 2500},
        {"sku": "TEE-1", "quantity": 1, "unit_price": 1999, "line_total": 1999},
    ]
    assert (listed[1]["total"], listed[1]["currency"]) == (4499, "EUR")

    mine = cli.json("orders", "list", "--customer", "alice")
    assert [o["id"] for o in mine] == [third.id, first.id]
    shipped = cli.json("orders", "list", "--status", "shipped")
    assert [o["id"] for o in shipped] == [first.id]
    paid_of_alice = cli.json("orders", "list", "--status", "paid", "--customer", "alice")
    assert [o["id"] for o in paid_of_alice] == [third.id]
    assert [o["id"] for o in cli.json("orders", "list", "--limit", "2")] == [third.id, second.id]

    table = cli.ok("orders", "list")
    assert "3 orders, newest first" in table
    row = next(line for line in table.splitlines() if second.id in line)
    assert "bob" in row and "paid" in row and "44.99 EUR" in row and " 3 " in row


def test_list_walks_every_page(cli: Cli) -> None:
    alice = customer(cli, "alice")
    cli.ok("stock", "set", "MUG-01", "500")
    placed = {cli.place_order(alice, ("MUG-01", 1)).id for _ in range(205)}
    listed = cli.json("orders", "list", "--status", "paid")
    assert len(listed) == 205 and {o["id"] for o in listed} == placed


def test_list_refusals_and_usage_errors(cli: Cli) -> None:
    assert cli.ok("orders", "list") == "No orders match.\n"
    assert cli.ok("orders", "list", "--json") == "[]\n"
    message = cli.refused("orders", "list", "--customer", "nobody")
    assert message == "no principal named nobody; see `orderly users list`"
    assert "Invalid value for '--status'" in cli.bad_usage("orders", "list", "--status", "lost")
    assert "--limit" in cli.bad_usage("orders", "list", "--limit", "0")


def test_show_for_people_and_scripts(cli: Cli) -> None:
    alice = customer(cli, "alice")
    order = cli.place_order(alice, ("MUG-01", 2), ("TEE-1", 1))
    shown = cli.json("orders", "show", order.id)
    assert set(shown) == ORDER_KEYS
    assert (shown["id"], shown["customer_id"], shown["status"]) == (order.id, alice, "paid")
    assert shown["total"] == 4499 and shown["cancel_reason"] is None

    text = cli.ok("orders", "show", order.id)
    assert f"Order {order.id}" in text
    assert "status    paid" in text and f"customer  alice ({alice})" in text
    assert "total     44.99 EUR" in text
    assert "MUG-01" in text and "25.00 EUR" in text  # a line and its total
    history = text[text.index("History") :]
    assert history.index("OrderPlaced") < history.index("OrderPaid")

    missing = cli.refused("orders", "show", "no-such-order")
    assert missing == "order no-such-order not found; see `orderly orders list`"


def test_ship_a_paid_order(cli: Cli) -> None:
    alice = customer(cli, "alice")
    order = cli.place_order(alice, ("MUG-01", 3))
    assert cli.ok("orders", "ship", order.id) == f"Shipped order {order.id}.\n"
    assert _stock(cli, "MUG-01") == {"sku": "MUG-01", "on_hand": 7, "reserved": 0, "available": 7}
    assert cli.ok("orders", "ship", order.id) == f"Order {order.id} was already shipped.\n"
    assert cli.json("orders", "ship", order.id)["status"] == "shipped"
    assert _stock(cli, "MUG-01")["on_hand"] == 7
    message = cli.refused("orders", "cancel", order.id)
    assert message == f"cannot cancel order {order.id}: it is shipped; shipped orders are final"


def test_cancel_a_paid_order_releases_stock_and_refunds(cli: Cli) -> None:
    alice = customer(cli, "alice")
    order = cli.place_order(alice, ("MUG-01", 3))
    assert _stock(cli, "MUG-01")["reserved"] == 3
    out = cli.ok("orders", "cancel", order.id)
    assert out == (
        f"Cancelled order {order.id}: its stock is released and its payment will be refunded.\n"
    )
    cli.deliver()  # the refund handler runs on the OrderCancelled event
    assert LedgerReader(cli.container.payments_ledger()).refunds() == {order.id: 1}
    assert _stock(cli, "MUG-01") == {"sku": "MUG-01", "on_hand": 10, "reserved": 0, "available": 10}
    shown = cli.json("orders", "show", order.id)
    assert (shown["status"], shown["cancel_reason"]) == ("cancelled", "admin_request")
    again = cli.ok("orders", "cancel", order.id)
    assert again == f"Order {order.id} was already cancelled (admin_request).\n"
    assert cli.json("orders", "cancel", order.id)["version"] == shown["version"]
    assert "ship order" in cli.refused("orders", "ship", order.id)
    assert "not found" in cli.refused("orders", "cancel", "no-such-order")


def test_an_unpaid_order_cannot_ship_but_can_be_cancelled(unpaid: Cli) -> None:
    alice = customer(unpaid, "alice")
    order = unpaid.place_order(alice, ("TEE-1", 2))
    assert unpaid.json("orders", "show", order.id)["status"] == "pending_payment"
    message = unpaid.refused("orders", "ship", order.id)
    assert message == (
        f"cannot ship order {order.id}: it is pending_payment; "
        "only paid orders ship; check it with `orderly orders show`"
    )
    out = unpaid.ok("orders", "cancel", order.id)
    assert out == f"Cancelled order {order.id}: its stock is released.\n"
    assert _stock(unpaid, "TEE-1")["reserved"] == 0


def test_expire_cancels_orders_unpaid_past_the_timeout(unpaid: Cli, clock: FixedClock) -> None:
    alice = customer(unpaid, "alice")
    old = unpaid.place_order(alice, ("MUG-01", 2))
    clock.advance(600)
    recent = unpaid.place_order(alice, ("MUG-01", 1))
    assert unpaid.ok("orders", "expire") == "Expired 0 orders unpaid for more than 900 seconds.\n"
    clock.advance(301)  # `old` is now 901 s old, `recent` 301 s
    assert unpaid.json("orders", "expire") == {"expired": 1}
    expired = unpaid.json("orders", "show", old.id)
    assert (expired["status"], expired["cancel_reason"]) == ("cancelled", "payment_timeout")
    assert unpaid.json("orders", "show", recent.id)["status"] == "pending_payment"
    assert _stock(unpaid, "MUG-01")["reserved"] == 1
    clock.advance(600)
    assert unpaid.ok("orders", "expire") == "Expired 1 order unpaid for more than 900 seconds.\n"
    assert unpaid.json("orders", "list", "--status", "pending_payment") == []
