"""The composition root hands every thread the same stateful adapters."""

from __future__ import annotations

import threading

from adapters.payments.guard import GuardedGateway
from core.use_cases.handlers import ChargePayment
from entrypoints.container import Container, build_container
from entrypoints.settings import Settings


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
