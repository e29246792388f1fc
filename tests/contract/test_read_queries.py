"""Read-side contract: view rows, filters, keyset pagination, event history, outbox status."""

from __future__ import annotations

from datetime import timedelta

from adapters.memory.queries import MemoryReadQueries
from adapters.sql.queries import SqlReadQueries
from core.domain.orders import Order, OrderLine, OrderStatus
from core.domain.principals import Principal, Role, hash_api_key
from core.ports.queries import (
    HealthCheck,
    OrderKey,
    OrderReader,
    OutboxMonitor,
    OutboxStatus,
    PrincipalReader,
    ProductReader,
    ReadQueries,
    StockView,
)
from core.use_cases.queries import OrderQueries, ProductQueries
from core.use_cases.support import Actor
from core.use_cases.views import order_view
from tests.contract.builders import add_product, place
from tests.contract.conftest import Backend

ADMIN = Actor("admin", Role.ADMIN)


def test_product_view_shows_available_stock(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1", on_hand=10, price=250)
    place(backend.uow, "order-1", {"SKU-1": 3}, now)
    view = backend.queries.get_product("SKU-1")
    assert view is not None
    assert (view.sku, view.price, view.currency, view.active, view.available) == (
        "SKU-1",
        250,
        "EUR",
        True,
        7,
    )
    assert view.created_at == now and view.version == 1
    assert backend.queries.get_product("NOPE") is None
    assert backend.queries.get_stock("SKU-1") == StockView("SKU-1", 10, 3, 7)
    assert backend.queries.get_stock("NOPE") is None


def test_products_are_listed_by_sku_with_filter_and_keyset(backend: Backend) -> None:
    now = backend.clock.now()
    for sku, active in [("D-1", True), ("A-1", True), ("C-1", False), ("B-1", True)]:
        add_product(backend.uow, now, sku, active=active)
    listed = backend.queries.list_products
    assert [p.sku for p in listed(None, None, 10)] == ["A-1", "B-1", "C-1", "D-1"]
    assert [p.sku for p in listed(True, None, 10)] == ["A-1", "B-1", "D-1"]
    assert [p.sku for p in listed(False, None, 10)] == ["C-1"]
    assert [p.sku for p in listed(None, "B-1", 10)] == ["C-1", "D-1"]
    assert [p.sku for p in listed(True, "A-1", 1)] == ["B-1"]
    pages = ProductQueries(backend.queries)
    first = pages.page(limit=3)
    second = pages.page(limit=3, cursor=first.next_cursor)
    assert [p.sku for p in first.items] == ["A-1", "B-1", "C-1"]
    assert [p.sku for p in second.items] == ["D-1"] and second.next_cursor is None


def test_order_view_matches_the_aggregate(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "B-1")
    add_product(backend.uow, now, "A-1")
    order = place(backend.uow, "order-1", {"B-1": 2, "A-1": 1}, now, customer="cust")
    assert backend.queries.get_order("order-1") == order_view(order)
    assert backend.queries.get_order("nope") is None


def test_orders_are_listed_newest_first_with_filters(backend: Backend) -> None:
    start = backend.clock.now()
    add_product(backend.uow, start, "SKU-1", on_hand=100)
    for index, customer in enumerate(["alice", "bob", "alice", "bob", "alice"]):
        place(
            backend.uow,
            f"order-{index}",
            {"SKU-1": 1},
            start + timedelta(seconds=index),
            customer=customer,
        )
    with backend.uow() as uow:
        order = uow.orders.get("order-2")
        assert order is not None
        order.mark_paid(backend.clock.now())
        uow.orders.save(order)
        uow.commit()
    listed = backend.queries.list_orders
    assert [o.id for o in listed(None, None, None, 10)] == [
        "order-4",
        "order-3",
        "order-2",
        "order-1",
        "order-0",
    ]
    assert [o.id for o in listed("alice", None, None, 10)] == ["order-4", "order-2", "order-0"]
    assert [o.id for o in listed(None, "paid", None, 10)] == ["order-2"]
    assert [o.id for o in listed("bob", "pending_payment", None, 1)] == ["order-3"]
    before = OrderKey(start + timedelta(seconds=2), "order-2")
    assert [o.id for o in listed("alice", None, before, 10)] == ["order-0"]
    views = listed(None, None, None, 10)
    assert all(len(v.lines) == 1 and v.lines[0].sku == "SKU-1" for v in views)
    assert views[2].status == OrderStatus.PAID.value


def test_keyset_pages_break_ties_on_id_and_stay_stable_while_orders_arrive(
    backend: Backend,
) -> None:
    start = backend.clock.now()
    add_product(backend.uow, start, "SKU-1", on_hand=100)
    # Three orders share one timestamp: the id decides their order.
    same = start + timedelta(seconds=5)
    with backend.uow() as uow:
        for order_id in ("order-b", "order-c", "order-a"):
            uow.orders.add(Order.place(order_id, "c1", [OrderLine("SKU-1", 1, 1)], "EUR", same))
        uow.commit()
    place(backend.uow, "order-old", {"SKU-1": 1}, start)
    place(backend.uow, "order-new", {"SKU-1": 1}, start + timedelta(seconds=9))
    pages = OrderQueries(backend.queries)
    first = pages.page(ADMIN, limit=2)
    assert [o.id for o in first.items] == ["order-new", "order-c"]
    # A newer order arrives between pages: later pages neither repeat nor skip anything.
    place(backend.uow, "order-newest", {"SKU-1": 1}, start + timedelta(seconds=60))
    second = pages.page(ADMIN, limit=2, cursor=first.next_cursor)
    third = pages.page(ADMIN, limit=2, cursor=second.next_cursor)
    assert [o.id for o in second.items] == ["order-b", "order-a"]
    assert [o.id for o in third.items] == ["order-old"]
    assert third.next_cursor is None


def test_order_events_are_the_history_oldest_first_even_once_sent(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1")
    place(backend.uow, "order-1", {"SKU-1": 1}, now)
    place(backend.uow, "order-2", {"SKU-1": 1}, now)
    with backend.uow() as uow:
        order = uow.orders.get("order-1")
        assert order is not None
        order.mark_paid(backend.clock.now())
        uow.orders.save(order)
        uow.commit()
    events = backend.queries.order_events("order-1")
    assert [e.type for e in events] == ["OrderPlaced", "OrderPaid"]
    assert events[0].payload["lines"] == [{"sku": "SKU-1", "quantity": 1, "unit_price": 100}]
    assert events[0].occurred_at == now and events[0].schema_version == 1
    while backend.outbox.relay_batch(100, lambda batch: None):
        pass
    assert backend.queries.order_events("order-1") == events
    assert backend.queries.order_events("nope") == []


def test_principals_are_listed_by_name_and_found_by_key_or_name(backend: Backend) -> None:
    created = backend.clock.now()
    with backend.uow() as uow:
        for principal_id, name, role in [("p-2", "zed", Role.ADMIN), ("p-1", "amy", Role.CUSTOMER)]:
            uow.principals.add(
                Principal(principal_id, name, role, hash_api_key(f"key-{name}"), created)
            )
        uow.commit()
    with backend.uow() as uow:
        zed = uow.principals.get("p-2")
        assert zed is not None
        zed.revoke(backend.clock.now())
        uow.principals.save(zed)
        uow.commit()
    listed = backend.queries.list_principals()
    assert [(p.name, p.role, p.active) for p in listed] == [
        ("amy", "customer", True),
        ("zed", "admin", False),
    ]
    assert listed[0].created_at == created and listed[1].revoked_at is not None
    by_key = backend.queries.principal_by_key_hash(hash_api_key("key-amy"))
    assert by_key is not None and by_key.id == "p-1"
    assert backend.queries.principal_by_key_hash(hash_api_key("nope")) is None
    by_name = backend.queries.principal_by_name("zed")
    assert by_name is not None and by_name.id == "p-2" and not by_name.active
    assert backend.queries.principal_by_name("nobody") is None


def test_outbox_status_counts_the_backlog_and_its_age(backend: Backend) -> None:
    assert backend.queries.outbox_status() == OutboxStatus(0, None)
    add_product(backend.uow, backend.clock.now(), "SKU-1", on_hand=5)
    backend.clock.advance(30)
    status = backend.queries.outbox_status()
    assert status.backlog == 2  # ProductCreated, StockAdjusted
    assert status.oldest_age_seconds is not None and 30 <= status.oldest_age_seconds < 31
    assert backend.outbox.relay_batch(1, lambda batch: None) == 1
    assert backend.queries.outbox_status().backlog == 1
    backend.outbox.relay_batch(10, lambda batch: None)
    assert backend.queries.outbox_status() == OutboxStatus(0, None)


def test_ping_answers(backend: Backend) -> None:
    backend.queries.ping()


READ_PORTS = (ProductReader, OrderReader, PrincipalReader, OutboxMonitor, HealthCheck)
# mypy checks here that each storage's read side serves every narrow read port.
READ_SIDES: tuple[type[ReadQueries], ...] = (MemoryReadQueries, SqlReadQueries)


def test_the_read_side_serves_every_read_port_and_readiness_pings_it(backend: Backend) -> None:
    queries = backend.queries
    assert isinstance(queries, READ_SIDES)
    for port in READ_PORTS:
        names = [name for name in vars(port) if not name.startswith("_")]
        assert names, f"{port.__name__} names no method"
        missing = [name for name in names if not callable(getattr(queries, name, None))]
        assert not missing, f"{type(queries).__name__} lacks {port.__name__}.{missing}"
    health: HealthCheck = backend.container.health_check()
    assert health is queries, "readiness pings the storage the reads come from"
    health.ping()
