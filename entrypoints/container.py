"""The composition root: the only place that knows which adapter serves which port.

Nothing is built at import time. `build_container()` validates the settings and
returns a container whose providers create adapters on first use; tests
override providers on it instead of monkeypatching.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.memory.outbox import MemoryOutbox
from adapters.memory.queries import MemoryReadQueries
from adapters.memory.store import MemoryStore
from adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from adapters.messaging.dispatch import HandlerDispatcher
from adapters.messaging.hooks import CommitHooks
from adapters.messaging.inprocess import SynchronousRelay
from adapters.notifications.log import LogNotifier
from adapters.payments.simulated import SimulatedGateway
from adapters.system import SystemClock, UuidGenerator
from core.use_cases.catalog import CreateProduct, ImportProducts, UpdateProduct
from core.use_cases.handlers import build_handlers
from core.use_cases.inventory import AdjustStock, SetStock
from core.use_cases.ordering import (
    CancelOrder,
    ExpirePendingOrders,
    PlaceOrder,
    PurgeIdempotencyRecords,
    ShipOrder,
)
from core.use_cases.principals import Authenticate, CreatePrincipal, ListPrincipals, RevokePrincipal
from core.use_cases.queries import OrderQueries, OutboxQueries, ProductQueries
from entrypoints.settings import Settings


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidGenerator)
    commit_hooks = providers.Singleton(CommitHooks)

    # Storage: repositories + unit of work, read side, and the relay's outbox.
    memory_store = providers.Singleton(MemoryStore)
    uow_factory = providers.Selector(
        config.storage,
        memory=providers.Singleton(MemoryUnitOfWorkFactory, memory_store, ids, clock, commit_hooks),
    )
    queries = providers.Selector(
        config.storage,
        memory=providers.Singleton(MemoryReadQueries, memory_store, clock),
    )
    outbox = providers.Selector(
        config.storage,
        memory=providers.Singleton(MemoryOutbox, memory_store),
    )

    # The outside world.
    gateway = providers.Singleton(
        SimulatedGateway,
        decline_above=config.payments_decline_above,
        failure_rate=config.payments_failure_rate,
        ledger_path=config.payments_ledger_path,
    )
    notifier = providers.Singleton(LogNotifier)

    # Event handlers and their delivery.
    handlers = providers.Singleton(build_handlers, uow_factory, gateway, notifier, clock)
    dispatcher = providers.Singleton(
        HandlerDispatcher, handlers, attempts=config.max_delivery_attempts
    )
    sync_relay = providers.Singleton(SynchronousRelay, outbox, dispatcher)

    # Use cases.
    create_product = providers.Singleton(CreateProduct, uow_factory, clock, config.currency)
    update_product = providers.Singleton(UpdateProduct, uow_factory, clock)
    import_products = providers.Singleton(ImportProducts, uow_factory, clock, config.currency)
    set_stock = providers.Singleton(SetStock, uow_factory, clock)
    adjust_stock = providers.Singleton(AdjustStock, uow_factory, clock)
    place_order = providers.Singleton(PlaceOrder, uow_factory, clock, ids, config.currency)
    cancel_order = providers.Singleton(CancelOrder, uow_factory, clock)
    ship_order = providers.Singleton(ShipOrder, uow_factory, clock)
    expire_orders = providers.Singleton(
        ExpirePendingOrders, uow_factory, clock, config.payment_timeout_seconds
    )
    purge_idempotency = providers.Singleton(PurgeIdempotencyRecords, uow_factory, clock)
    create_principal = providers.Singleton(CreatePrincipal, uow_factory, clock, ids)
    revoke_principal = providers.Singleton(RevokePrincipal, uow_factory, clock)
    list_principals = providers.Singleton(ListPrincipals, queries)
    authenticate = providers.Singleton(Authenticate, queries)
    product_queries = providers.Singleton(ProductQueries, queries)
    order_queries = providers.Singleton(OrderQueries, queries)
    outbox_queries = providers.Singleton(OutboxQueries, queries)


def build_container(settings: Settings | None = None) -> Container:
    """A container configured from `settings` (default: the ORDERLY_* environment)."""
    settings = settings or Settings.from_env()
    container = Container()
    container.config.from_dict(settings.as_config())
    return container


def start_delivery(container: Container) -> None:
    """Connect committed events to their handlers for the configured delivery mode.

    `sync`: drained in the committing thread. The other modes are started by the
    process that owns them (`orderly serve`, `orderly worker`, `orderly relay`).
    """
    if container.config.delivery() == "sync":
        container.commit_hooks().subscribe(container.sync_relay().on_commit)
