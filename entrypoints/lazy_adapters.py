"""Constructors for the adapters whose libraries are heavy, importing them on first use.

SQLAlchemy, psycopg, pika and httpx cost about half a second of imports together. The
container names these functions instead of the classes, so a process (or test) on the
memory store with in-process messaging never loads them; one on SQL or RabbitMQ loads
them when its first provider is built (docs/decisions/0014-adapters-imported-on-first-use.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from core.ports.messaging import EventHandler
from core.ports.system import Clock, IdGenerator
from core.ports.unit_of_work import AfterCommit
from entrypoints.settings import ConfigError

if TYPE_CHECKING:
    from adapters.messaging.health import BrokerHealth
    from adapters.messaging.rabbitmq.dead_letters import DeadLetterQueue
    from adapters.messaging.rabbitmq.publisher import RabbitPublisher
    from adapters.messaging.rabbitmq.topology import Topology
    from adapters.sql.commit_watcher import CommitWatcher
    from adapters.sql.database import SqlDatabase
    from adapters.sql.dead_letters import SqlDeadLetterStore
    from adapters.sql.outbox import SqlOutbox
    from adapters.sql.outbox_listener import OutboxListener
    from adapters.sql.queries import SqlReadQueries
    from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
    from adapters.sql.webhooks import SqlWebhookStore
    from adapters.webhooks.http_sender import HttpxWebhookSender, SocketResolver


def open_database(url: str) -> SqlDatabase:
    """The SQL engine for ORDERLY_DATABASE_URL (built on first use, never at import)."""
    from adapters.sql.database import SqlDatabase
    from adapters.sql.engines import InvalidDatabaseUrl

    try:
        return SqlDatabase.from_url(url)
    except InvalidDatabaseUrl as exc:
        raise ConfigError(f"ORDERLY_DATABASE_URL: {exc}") from None


def sql_unit_of_work_factory(
    database: SqlDatabase, ids: IdGenerator, clock: Clock, after_commit: AfterCommit
) -> SqlUnitOfWorkFactory:
    from adapters.sql.unit_of_work import SqlUnitOfWorkFactory

    return SqlUnitOfWorkFactory(database, ids, clock, after_commit)


def sql_read_queries(database: SqlDatabase, clock: Clock) -> SqlReadQueries:
    from adapters.sql.queries import SqlReadQueries

    return SqlReadQueries(database, clock)


def sql_outbox(database: SqlDatabase, clock: Clock, lease_seconds: float) -> SqlOutbox:
    from adapters.sql.outbox import SqlOutbox

    return SqlOutbox(database, clock, lease_seconds=lease_seconds)


def sql_dead_letter_store(database: SqlDatabase) -> SqlDeadLetterStore:
    from adapters.sql.dead_letters import SqlDeadLetterStore

    return SqlDeadLetterStore(database)


def sql_webhook_store(database: SqlDatabase) -> SqlWebhookStore:
    from adapters.sql.webhooks import SqlWebhookStore

    return SqlWebhookStore(database)


def outbox_listener(database_url: str, wake: Callable[[], None]) -> OutboxListener:
    """Started: PostgreSQL's LISTEN on the outbox channel, calling `wake` on each notice."""
    from adapters.sql.outbox_listener import OutboxListener

    return OutboxListener(database_url, wake).start()


def commit_watcher(database: SqlDatabase, wake: Callable[[], None]) -> CommitWatcher:
    """Started: a watch for other processes' commits to a SQLite file, calling `wake`."""
    from adapters.sql.commit_watcher import CommitWatcher

    return CommitWatcher(database.engine, wake).start()


def rabbitmq_topology(
    handlers: Iterable[EventHandler], max_attempts: int, retry_delay_ms: int
) -> Topology:
    from adapters.messaging.rabbitmq.topology import Topology

    return Topology.for_handlers(handlers, max_attempts, retry_delay_ms)


def rabbitmq_publisher(url: str, topology: Topology) -> RabbitPublisher:
    from adapters.messaging.rabbitmq.publisher import RabbitPublisher

    return RabbitPublisher(url, topology)


def dead_letter_queue(url: str, topology: Topology) -> DeadLetterQueue:
    from adapters.messaging.rabbitmq.dead_letters import DeadLetterQueue

    return DeadLetterQueue(url, topology)


def broker_health(url: str) -> BrokerHealth:
    from adapters.messaging.health import BrokerHealth

    return BrokerHealth(url)


def httpx_webhook_sender(timeout_seconds: float) -> HttpxWebhookSender:
    from adapters.webhooks.http_sender import HttpxWebhookSender

    return HttpxWebhookSender(timeout_seconds)


def socket_resolver() -> SocketResolver:
    from adapters.webhooks.http_sender import SocketResolver

    return SocketResolver()
