"""Unit-of-work contract: all or nothing, events in the same transaction, hooks after commit."""

from __future__ import annotations

import gc
import weakref

import pytest

from core.domain.catalog import Product
from core.domain.money import Money
from core.domain.stock import StockItem
from core.ports.correlation import correlation
from core.ports.queries import OutboxStatus
from tests.contract.builders import add_product, held, reserve_and_place
from tests.contract.conftest import Backend


class Boom(Exception):
    pass


def _new_product(backend: Backend, sku: str) -> Product:
    return Product.create(sku, "Thing", Money(5, "EUR"), True, backend.clock.now())


def test_commit_persists_and_writes_the_events_to_the_outbox(backend: Backend) -> None:
    with correlation("corr-1"), backend.uow() as uow:
        uow.products.add(_new_product(backend, "SKU-1"))
        uow.stock.add(StockItem("SKU-1"))
        envelopes = uow.commit()
    assert [e.type for e in envelopes] == ["ProductCreated"]
    assert envelopes[0].correlation_id == "corr-1" and envelopes[0].subject == "SKU-1"
    assert backend.queries.get_product("SKU-1") is not None
    assert backend.queries.outbox_status().backlog == 1
    delivered: list[str] = []
    backend.outbox.relay_batch(10, lambda batch: delivered.extend(e.event_id for e in batch))
    assert delivered == [envelopes[0].event_id]


def test_events_carry_the_correlation_in_effect_else_a_fresh_id_per_unit_of_work(
    backend: Backend,
) -> None:
    def stamped(sku: str) -> str:
        with backend.uow() as uow:
            uow.products.add(_new_product(backend, sku))
            uow.stock.add(StockItem(sku))
            (envelope,) = uow.commit()
        return envelope.correlation_id

    with correlation("outer"):
        with correlation("inner"):
            assert stamped("SKU-1") == "inner"
        assert stamped("SKU-2") == "outer"  # the outer id again once the inner block ends
        with correlation(None):
            fresh = [stamped("SKU-3"), stamped("SKU-4")]
        too_long = "x" * 65
        with correlation(too_long):  # more than the column holds: replaced, never truncated
            replaced = stamped("SKU-5")
    unset = stamped("SKU-6")
    ids = {*fresh, replaced, unset}
    assert len(ids) == 4 and not ids & {"outer", "inner", too_long}
    assert all(1 <= len(i) <= 64 for i in ids)
    stored: dict[str, str] = {}
    backend.outbox.relay_batch(
        10, lambda batch: stored.update((e.subject, e.correlation_id) for e in batch)
    )
    assert stored == {
        "SKU-1": "inner",
        "SKU-2": "outer",
        "SKU-3": fresh[0],
        "SKU-4": fresh[1],
        "SKU-5": replaced,
        "SKU-6": unset,
    }


def test_leaving_without_commit_rolls_everything_back(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.products.add(_new_product(backend, "SKU-1"))
        uow.stock.add(StockItem("SKU-1"))
    assert backend.queries.get_product("SKU-1") is None
    assert backend.queries.get_stock("SKU-1") is None
    assert backend.queries.outbox_status() == OutboxStatus(0, None)
    assert backend.committed == []


def test_an_error_mid_use_case_leaves_no_order_reservation_or_event(backend: Backend) -> None:
    now = backend.clock.now()
    add_product(backend.uow, now, "SKU-1", on_hand=5)
    add_product(backend.uow, now, "SKU-2", on_hand=5)
    before = backend.queries.outbox_status().backlog
    with pytest.raises(Boom), backend.uow() as uow:
        reserve_and_place(uow, "order-1", {"SKU-1": 2, "SKU-2": 5}, now)
        raise Boom("the process failed before commit")
    assert backend.queries.get_order("order-1") is None
    for sku in ("SKU-1", "SKU-2"):
        view = backend.queries.get_stock(sku)
        assert view is not None and view.reserved == 0
    with backend.uow() as uow:
        reservations = held(uow, "order-1")
    assert reservations == {}
    assert backend.queries.outbox_status().backlog == before
    assert backend.queries.order_events("order-1") == []


def test_uncommitted_changes_are_invisible_to_readers(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.products.add(_new_product(backend, "SKU-1"))
        uow.stock.add(StockItem("SKU-1"))
        assert backend.queries.get_product("SKU-1") is None
        uow.commit()
    assert backend.queries.get_product("SKU-1") is not None


def test_a_unit_of_work_reads_its_own_writes(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.products.add(_new_product(backend, "SKU-1"))
        uow.stock.add(StockItem("SKU-1", on_hand=3))
        product = uow.products.get("SKU-1")
        item = uow.stock.get("SKU-1")
    assert product is not None and product.sku == "SKU-1"
    assert item is not None and item.on_hand == 3


def test_after_commit_gets_the_envelopes_once_the_transaction_is_over(backend: Backend) -> None:
    seen_by_hook: list[bool] = []

    def hook(envelopes: object) -> None:
        # Runs after the transaction ended: a reader sees the committed state.
        seen_by_hook.append(backend.queries.get_product("SKU-1") is not None)

    backend.container.commit_hooks().subscribe(hook)
    with backend.uow() as uow:
        uow.products.add(_new_product(backend, "SKU-1"))
        uow.stock.add(StockItem("SKU-1"))
        envelopes = uow.commit()
        assert seen_by_hook == []
    assert seen_by_hook == [True]
    assert backend.committed == [envelopes]


def test_only_events_of_added_or_saved_aggregates_reach_the_outbox(backend: Backend) -> None:
    add_product(backend.uow, backend.clock.now(), "SKU-1")
    before = backend.queries.outbox_status().backlog
    with backend.uow() as uow:
        product = uow.products.get("SKU-1")
        assert product is not None
        product.update(backend.clock.now(), name="Changed but never saved")
        assert uow.commit() == []
    assert backend.queries.outbox_status().backlog == before
    view = backend.queries.get_product("SKU-1")
    assert view is not None and view.name == "Product SKU-1"


def test_a_commit_with_no_events_calls_no_hook(backend: Backend) -> None:
    with backend.uow() as uow:
        assert uow.products.get("NOPE") is None
        uow.commit()
    assert backend.committed == []


def test_a_finished_unit_of_work_is_freed_at_once_with_what_it_tracked(backend: Backend) -> None:
    """No reference cycle through the unit of work: a cycle kept every object of a
    transaction (its aggregates, their events) alive until the garbage collector's
    next pass, which then had all of them to scan (docs/performance.md)."""
    collecting = gc.isenabled()
    gc.disable()  # only reference counting may free them here
    try:
        product = _new_product(backend, "SKU-1")
        with backend.uow() as uow:
            uow.products.add(product)
            uow.stock.add(StockItem("SKU-1"))
            uow.commit()
        freed_uow, freed_product = weakref.ref(uow), weakref.ref(product)
        del uow, product
        assert freed_uow() is None
        assert freed_product() is None
    finally:
        if collecting:
            gc.enable()
