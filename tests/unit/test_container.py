"""The composition root hands every thread the same stateful adapters."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from dependency_injector import providers

from adapters.messaging.inprocess import IN_PROCESS_HANDLER_BATCH
from adapters.payments.guard import GuardedGateway
from adapters.payments.simulated import SimulatedGateway
from adapters.system import FixedClock, SystemClock
from core.domain.errors import NotFound
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.payments import ChargePayment
from entrypoints.container import Container, _in_process_handler_batch, build_container
from entrypoints.delivery import start_delivery
from entrypoints.settings import Settings
from tests.unit.containers import lend, recycle


def _first_use_from_threads(container: Container, threads_n: int) -> list[tuple[int, ...]]:
    """Resolve the container for the first time from many threads at once."""
    seen: list[tuple[int, ...]] = []
    lock = threading.Lock()
    start = threading.Barrier(threads_n)

    def resolve() -> None:
        start.wait()
        charge = container.dispatcher().handlers[0].handle
        assert isinstance(charge, ChargePayment)
        guarded = charge._gateway
        assert isinstance(guarded, GuardedGateway)  # timeout and circuit breaker in front
        ids = (
            id(container.memory_store()),
            id(container.gateway()),
            id(guarded.inner),
            id(container.notifier()),
            id(container.commit_hooks()),
            id(container.uow_factory().after_commit),
        )
        with lock:
            seen.append(ids)

    threads = [threading.Thread(target=resolve) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return seen


def test_concurrent_first_use_builds_each_stateful_adapter_once() -> None:
    """A server's threads may resolve the container for the first time all at once: they
    must still share one store, one gateway ledger, one notifier and one set of hooks."""
    for _ in range(10):
        seen = _first_use_from_threads(build_container(Settings(database_url="memory://")), 8)
        assert len(seen) == 8
        assert len(set(seen)) == 1
        _, gateway, handlers_gateway, _, hooks, uow_hooks = seen[0]
        assert gateway == handlers_gateway and hooks == uow_hooks


def test_a_recycled_container_keeps_nothing_of_its_last_use() -> None:
    """The unit suite recycles memory containers instead of rebuilding them
    (tests/unit/containers.py): the next user must find it as `build_container` made it."""
    settings = Settings(database_url="memory://", payments_decline_above=1234)
    first = lend(settings)
    fixed = FixedClock()
    first.clock.override(fixed)
    first.gateway.override(providers.Object(object()))
    start_delivery(first)
    first.create_product()(CreateProductCommand("AB-1", "Widget", 100))
    old = (first.memory_store(), first.commit_hooks(), first.payments_ledger(), first.notifier())
    clock: object = first.clock()
    assert old[0].products and clock is fixed

    recycle(first)
    again = lend(settings)

    assert again is first  # recycled, not rebuilt
    new = (again.memory_store(), again.commit_hooks(), again.payments_ledger(), again.notifier())
    assert all(n is not o for n, o in zip(new, old, strict=True))
    assert not again.memory_store().products
    with pytest.raises(NotFound):
        again.product_queries().get("AB-1")
    assert isinstance(again.clock(), SystemClock)
    assert isinstance(again.gateway(), SimulatedGateway)
    assert again.config.payments_decline_above() == 1234
    assert again.config.storage() == "memory"


def test_in_process_handlers_take_a_slice_of_a_claim_on_sqlite_only(tmp_path: Path) -> None:
    # On SQLite each handler's unit of work takes at most IN_PROCESS_HANDLER_BATCH events
    # of a claim (it holds the one writer placements wait for); elsewhere the whole claim.
    assert _in_process_handler_batch(f"sqlite:///{tmp_path}/x.db") == IN_PROCESS_HANDLER_BATCH
    assert Settings().relay_batch_size > IN_PROCESS_HANDLER_BATCH
    assert _in_process_handler_batch("postgresql+psycopg://u@h/db") is None
    container = build_container(Settings(database_url="memory://"))
    assert container.dispatcher().max_batch is None
