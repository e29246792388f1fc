"""The composition root: the only place that knows which adapter serves which port.

Nothing is built at import time. `build_container()` validates the settings and
returns a container whose providers create adapters on first use; tests
override providers on it instead of monkeypatching.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.memory.dead_letters import MemoryDeadLetterStore
from adapters.memory.outbox import MemoryOutbox
from adapters.memory.queries import MemoryReadQueries
from adapters.memory.store import MemoryStore
from adapters.memory.unit_of_work import MemoryUnitOfWorkFactory
from adapters.memory.webhooks import MemoryWebhookStore
from adapters.messaging.dead_letters import DeadLetters, StoredDeadLetters
from adapters.messaging.dispatch import HandlerDispatcher
from adapters.messaging.hooks import CommitHooks
from adapters.messaging.inprocess import (
    IN_PROCESS_HANDLER_BATCH,
    BackgroundRelay,
    SynchronousRelay,
)
from adapters.notifications.log import LogNotifier
from adapters.payments.guard import GuardedGateway
from adapters.payments.ledger import LedgerStore, MemoryLedger, SqliteLedger
from adapters.payments.simulated import SimulatedGateway
from adapters.system import SystemClock, UuidGenerator
from adapters.tracing import otel
from adapters.webhooks.metrics import count_outcome
from core.ports.errors import DependencyUnavailable
from core.ports.queries import HealthCheck
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
from core.use_cases.webhook_delivery import DeliverWebhooks, FanOutWebhooks
from core.use_cases.webhooks import TargetGuard, WebhookAdmin, WebhookPolicy
from entrypoints import lazy_adapters as lazy
from entrypoints.settings import ConfigError, Settings


def _in_process_handler_batch(database_url: str) -> int | None:
    """On SQLite the saga's units of work share the one writer with placements: each
    takes at most IN_PROCESS_HANDLER_BATCH events (decision 0025). Elsewhere they
    block no placement, and fewer, larger units mean fewer commits."""
    return IN_PROCESS_HANDLER_BATCH if database_url.startswith("sqlite") else None


def open_payments_ledger(path: str, storage: str) -> LedgerStore:
    """The simulated gateway's ledger store: ORDERLY_PAYMENTS_LEDGER_PATH if set (shared by
    every process using it); else in memory next to a `memory://` store, which keeps
    every order in memory anyway; else a private temporary file, so that a process on a
    SQL database keeps nothing per order in memory (docs/hardening.md, Bounded memory)."""
    if path:
        return SqliteLedger(path)
    if storage == "memory":
        return MemoryLedger()
    return SqliteLedger.temporary()


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidGenerator)
    # Stateful singletons are thread-safe: a plain Singleton resolved for the first time
    # by several threads at once builds several instances (lost store, split ledger).
    commit_hooks = providers.ThreadSafeSingleton(CommitHooks)

    # Storage: repositories + unit of work, read side, and the relay's outbox.
    memory_store = providers.ThreadSafeSingleton(MemoryStore)
    database = providers.Singleton(lazy.open_database, config.database_url)
    uow_factory = providers.Selector(
        config.storage,
        memory=providers.Singleton(MemoryUnitOfWorkFactory, memory_store, ids, clock, commit_hooks),
        sql=providers.Singleton(lazy.sql_unit_of_work_factory, database, ids, clock, commit_hooks),
    )
    # One read side per storage serves every narrow read port (core/ports/queries.py);
    # readiness gets it as its HealthCheck (an alias: overriding either overrides both).
    queries = providers.Selector(
        config.storage,
        memory=providers.Singleton(MemoryReadQueries, memory_store, clock),
        sql=providers.Singleton(lazy.sql_read_queries, database, clock),
    )
    health_check: providers.Provider[HealthCheck] = queries
    outbox = providers.Selector(
        config.storage,
        memory=providers.Singleton(MemoryOutbox, memory_store),
        sql=providers.Singleton(lazy.sql_outbox, database, clock, config.outbox_lease_seconds),
    )
    dead_letter_store = providers.Selector(
        config.storage,
        memory=providers.Singleton(MemoryDeadLetterStore, memory_store),
        sql=providers.Singleton(lazy.sql_dead_letter_store, database),
    )

    # The outside world.
    payments_ledger = providers.ThreadSafeSingleton(
        open_payments_ledger, config.payments_ledger_path, config.storage
    )
    gateway = providers.ThreadSafeSingleton(
        SimulatedGateway,
        payments_ledger,
        decline_above=config.payments_decline_above,
        failure_rate=config.payments_failure_rate,
        latency_ms=config.payments_latency_ms,
    )
    # What the handlers call: every call timed out, a circuit breaker in front.
    payment_gateway = providers.ThreadSafeSingleton(
        GuardedGateway,
        gateway,
        timeout=config.payments_timeout_seconds,
        breaker_failures=config.payments_breaker_failures,
        breaker_cooldown=config.payments_breaker_cooldown_seconds,
    )
    notifier = providers.ThreadSafeSingleton(LogNotifier)

    # Webhooks (docs/api.md, Webhooks): subscriptions and deliveries, the fan-out handler that
    # makes deliveries from committed events, and the sender (started by serve or worker).
    webhook_store = providers.Selector(
        config.storage,
        memory=providers.ThreadSafeSingleton(MemoryWebhookStore, memory_store),
        sql=providers.Singleton(lazy.sql_webhook_store, database),
    )
    webhook_policy = providers.Singleton(
        WebhookPolicy,
        timeout_seconds=config.webhook_timeout_seconds,
        retry_base_seconds=config.webhook_retry_base_seconds,
        max_attempts=config.webhook_max_attempts,
        breaker_failures=config.webhook_breaker_failures,
        breaker_cooldown_seconds=config.webhook_breaker_cooldown_seconds,
        allow_private_networks=config.webhooks_allow_private_networks,
    )
    host_resolver = providers.Singleton(lazy.socket_resolver)
    webhook_guard = providers.Singleton(
        TargetGuard, host_resolver, config.webhooks_allow_private_networks
    )
    webhook_sender = providers.ThreadSafeSingleton(
        lazy.httpx_webhook_sender, config.webhook_timeout_seconds
    )
    webhook_fanout = providers.ThreadSafeSingleton(FanOutWebhooks, webhook_store, clock)
    webhook_admin = providers.Singleton(WebhookAdmin, webhook_store, webhook_guard, clock, ids)
    deliver_webhooks = providers.Singleton(
        DeliverWebhooks,
        webhook_store,
        webhook_sender,
        webhook_guard,
        clock,
        webhook_policy,
        on_outcome=count_outcome,
    )

    # Event handlers and their delivery.
    handlers = providers.Singleton(
        build_handlers,
        uow_factory,
        payment_gateway,
        notifier,
        clock,
        webhooks=webhook_fanout,
        gateway_concurrency=config.gateway_concurrency,
    )
    # In-process delivery: a delivery failing every attempt is parked in the dead-letter
    # store (RabbitMQ's worker builds its own dispatcher; the broker dead-letters there).
    dispatcher = providers.Singleton(
        HandlerDispatcher,
        handlers,
        attempts=config.max_delivery_attempts,
        dead_letters=dead_letter_store,
        max_batch=providers.Callable(_in_process_handler_batch, config.database_url),
    )
    sync_relay = providers.Singleton(SynchronousRelay, outbox, dispatcher)
    background_relay = providers.Factory(
        BackgroundRelay, outbox, dispatcher, batch_size=config.relay_batch_size
    )

    # RabbitMQ: the layout, the relay's confirming publisher, operators' DLQ, readiness.
    # Factories where a connection is held: pika connections are one per thread.
    rabbitmq_topology = providers.Singleton(
        lazy.rabbitmq_topology, handlers, config.max_delivery_attempts, config.retry_delay_ms
    )
    rabbitmq_publisher = providers.Factory(
        lazy.rabbitmq_publisher, config.rabbitmq_url, rabbitmq_topology
    )
    # Operators' dead letters (`orderly dlq`, the depth gauge), by messaging mode.
    dead_letters: providers.Provider[DeadLetters] = providers.Selector(
        config.messaging,
        rabbitmq=providers.Factory(lazy.dead_letter_queue, config.rabbitmq_url, rabbitmq_topology),
        inprocess=providers.Singleton(StoredDeadLetters, dead_letter_store, dispatcher),
    )
    broker_health = providers.Singleton(lazy.broker_health, config.rabbitmq_url)

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
    check_database(container)
    trace_use_cases(container)
    return container


# Use cases that get a span each when tracing is on (OTEL_TRACES_EXPORTER set).
TRACED_USE_CASES = (
    "create_product", "update_product", "import_products", "set_stock", "adjust_stock",
    "place_order", "cancel_order", "ship_order", "expire_orders", "purge_idempotency",
    "create_principal", "revoke_principal",
)  # fmt: skip


def trace_use_cases(container: Container) -> None:
    """Tracing from OTEL_*: off (nothing done, nothing imported) unless configured. On,
    each use case runs in a span named after it (wrapped here: the core knows nothing
    of tracing), and the engine, if already built, is instrumented."""
    try:
        if not otel.configure_from_env():
            return
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if container.config.storage() == "sql":
        otel.instrument_engine(container.database().engine)
    for name in TRACED_USE_CASES:
        provider = getattr(container, name)
        use_case = provider()
        provider.override(providers.Object(otel.traced(f"use_case {name}", use_case)))


def check_database(container: Container) -> None:
    """Fail at startup, in one line naming ORDERLY_DATABASE_URL, when the database is
    malformed (ConfigError) or does not answer (DependencyUnavailable). The schema is
    not checked here: `orderly db upgrade` must run against an empty database."""
    if container.config.storage() != "sql":
        return
    database = container.database()
    try:
        database.ping()
    except DependencyUnavailable as exc:
        raise DependencyUnavailable(
            "database", f"ORDERLY_DATABASE_URL={database.url} does not answer: {exc.detail}"
        ) from None
