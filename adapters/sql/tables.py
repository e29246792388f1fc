"""The schema, as SQLAlchemy Core tables. Migrations create exactly this (a test compares).

Aggregates are mapped to and from these tables by hand (adapters/sql/mapping.py),
so core/domain never sees SQLAlchemy; see adapters/sql/README.md for why.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Connection,
    Engine,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
    text,
)

from adapters.sql.outbox_channel import CREATE_NOTIFY_FUNCTION, CREATE_NOTIFY_TRIGGER
from adapters.sql.types import BigCount, BigId, Json, UtcDateTime

# Deterministic constraint names, so that migrations can refer to them on both databases.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

ID = 64  # UUIDs in production; tests use other short ids

products = Table(
    "products",
    metadata,
    Column("sku", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("price >= 0", name="price_not_negative"),
)

stock = Table(
    "stock",
    metadata,
    Column("sku", String(32), ForeignKey("products.sku"), primary_key=True),
    Column("on_hand", BigCount, nullable=False),
    Column("reserved", BigCount, nullable=False),
    Column("version", Integer, nullable=False),
    # The last line of defence: whatever the code does, the database refuses oversell.
    CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", String(ID), primary_key=True),
    # No foreign key to principals: orders outlive revoked keys, and tools may place
    # orders for customers that live in another system.
    Column("customer_id", String(ID), nullable=False),
    Column("status", String(20), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("cancel_reason", String(32)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint(
        "status IN ('pending_payment', 'paid', 'shipped', 'cancelled')", name="known_status"
    ),
    # Keyset pagination, newest first, overall and per customer; the expiry sweep.
    Index("ix_orders_created_at_id", "created_at", "id"),
    Index("ix_orders_customer_id_created_at_id", "customer_id", "created_at", "id"),
    Index("ix_orders_status_created_at", "status", "created_at"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", String(ID), ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("sku", String(32), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", BigInteger, nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)

stock_reservations = Table(
    "stock_reservations",
    metadata,
    Column("sku", String(32), ForeignKey("stock.sku"), primary_key=True),
    Column("order_id", String(ID), primary_key=True),
    Column("quantity", BigCount, nullable=False),
    # Placing an order reserves stock before it inserts the order row, so the check
    # waits for commit (deferred), where both rows exist or neither does.
    ForeignKeyConstraint(
        ["order_id"], ["orders.id"], deferrable=True, initially="DEFERRED", ondelete="CASCADE"
    ),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    Index("ix_stock_reservations_order_id", "order_id"),
)

payments = Table(
    "payments",
    metadata,
    Column("order_id", String(ID), ForeignKey("orders.id"), primary_key=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("charge_id", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("refund_id", String(200)),
    Column("refunded_at", UtcDateTime),
    Column("version", Integer, nullable=False),
)

principals = Table(
    "principals",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Column("version", Integer, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("principal_id", String(ID), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("order_id", String(ID), nullable=False),
    Column("response", Json, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_idempotency_keys_created_at", "created_at"),
)

# The inbox: which handler has processed which event (exactly-once effects).
processed_events = Table(
    "processed_events",
    metadata,
    Column("handler", String(100), primary_key=True),
    Column("event_id", String(ID), primary_key=True),
    Column("processed_at", UtcDateTime, nullable=False),
)

# The transactional outbox. Sent rows stay: they are each order's event history.
outbox = Table(
    "outbox",
    metadata,
    Column("position", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(ID), nullable=False, unique=True),
    Column("type", String(50), nullable=False),
    Column("subject", String(ID), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("correlation_id", String(ID), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("payload", Json, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # SQLite relays claim rows with a lease (PostgreSQL holds row locks instead).
    Column("claimed_until", UtcDateTime),
    Column("sent_at", UtcDateTime),
    # W3C traceparent of the span that wrote the row (tracing on), continued by the relay.
    Column("trace_context", String(128)),
    Index("ix_outbox_subject_position", "subject", "position"),
    # Only the backlog is indexed for the relay, so the index stays small.
    Index(
        "ix_outbox_unsent_position",
        "position",
        postgresql_where=text("sent_at IS NULL"),
        sqlite_where=text("sent_at IS NULL"),
    ),
)


@event.listens_for(outbox, "after_create")
def _notify_relays_on_insert(_table: Table, connection: Connection, **_: Any) -> None:
    """PostgreSQL: inserting outbox rows wakes the listening relays (outbox_channel.py)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(CREATE_NOTIFY_FUNCTION)
        connection.exec_driver_sql(CREATE_NOTIFY_TRIGGER)


# Webhooks (docs/api.md, Webhooks): subscriptions, with their breaker, and one delivery per
# event and subscription. The secret is kept in clear: it must sign (HMAC key).
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("events", Json, nullable=False),
    Column("description", String(500), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("secret", String(100), nullable=False),
    Column("previous_secret", String(100)),
    Column("previous_secret_expires_at", UtcDateTime),
    Column("failure_streak", Integer, nullable=False),
    Column("circuit_open_until", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_webhook_subscriptions_created_at_id", "created_at", "id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    # Creation order: the log's newest-first position and the tie-break of event order.
    Column("position", BigId, primary_key=True, autoincrement=True),
    Column("id", String(ID), nullable=False, unique=True),
    Column("subscription_id", String(ID), ForeignKey("webhook_subscriptions.id"), nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("event_type", String(50), nullable=False),
    Column("subject", String(ID), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("attempt_limit", Integer),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_until", UtcDateTime),
    Column("last_attempt_at", UtcDateTime),
    Column("last_status_code", Integer),
    Column("last_error", String(500)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    # The per-subject chains: is there an earlier pending delivery?
    Index("ix_webhook_deliveries_chain", "subscription_id", "subject", "occurred_at"),
    Index("ix_webhook_deliveries_log", "subscription_id", "position"),
    # Only pending rows are indexed for the sender, so the index stays small.
    Index(
        "ix_webhook_deliveries_pending",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
        sqlite_where=text("status = 'pending'"),
    ),
)


# In-process delivery's dead letters: one handler's delivery of one event that failed
# every attempt, parked with the whole envelope so that it can be replayed.
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("handler", String(100), primary_key=True),
    Column("event_id", String(ID), primary_key=True),
    Column("type", String(50), nullable=False),
    Column("subject", String(ID), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("correlation_id", String(ID), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("payload", Json, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", String(1000), nullable=False),
    Column("dead_lettered_at", UtcDateTime, nullable=False),
    Index("ix_dead_letters_dead_lettered_at", "dead_lettered_at"),
)

ALL_TABLES = [
    products,
    stock,
    orders,
    order_lines,
    stock_reservations,
    payments,
    principals,
    idempotency_keys,
    processed_events,
    outbox,
    webhook_subscriptions,
    webhook_deliveries,
    dead_letters,
]


def create_schema(engine: Engine) -> None:
    """Create every table directly (tests and benchmarks); deployments run the migrations."""
    metadata.create_all(engine)
