"""Every statement the repositories send, built once at import and reused, so each
execution is a compiled-cache hit (tests/integration/test_query_plans.py checks that an
index serves each).

Loads lock what they return (`FOR UPDATE` on PostgreSQL; on SQLite the unit of work
already holds the database's single write lock, and SQLAlchemy renders no
`FOR UPDATE` there). UPDATEs of versioned rows carry `k_<key>` and `k_version`.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    any_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    true,
    update,
)

from adapters.sql.lists import ByDialect, with_list
from adapters.sql.tables import (
    idempotency_keys,
    order_lines,
    orders,
    payments,
    principals,
    processed_events,
    products,
    stock,
    stock_reservations,
)
from core.domain.orders import OrderStatus

PRODUCT_GET = select(products).where(products.c.sku == bindparam("sku")).with_for_update()
# Locked in key order: concurrent loads cannot deadlock.
PRODUCTS_MANY_UNLOCKED = (
    select(products)
    .where(products.c.sku.in_(bindparam("skus", expanding=True)))
    .order_by(products.c.sku)
)
PRODUCTS_MANY = PRODUCTS_MANY_UNLOCKED.with_for_update()
# A placement on PostgreSQL reads its products and their stock rows without a lock: one
# statement, one round trip (SqlProductRepository.get_many; the stock columns are
# labelled so that the product's own keep their names).
PRODUCTS_WITH_STOCK_UNLOCKED = (
    select(
        products,
        stock.c.on_hand.label("stock_on_hand"),
        stock.c.reserved.label("stock_reserved"),
        stock.c.version.label("stock_version"),
    )
    .select_from(products.outerjoin(stock, stock.c.sku == products.c.sku))
    .where(products.c.sku.in_(bindparam("skus", expanding=True)))
    .order_by(products.c.sku)
)
PRODUCT_INSERT = insert(products)
PRODUCT_UPDATE = update(products).where(
    products.c.sku == bindparam("k_sku"), products.c.version == bindparam("k_version")
)

STOCK_GET = (
    select(stock.c.sku, stock.c.on_hand, stock.c.reserved, stock.c.version)
    .where(stock.c.sku == bindparam("sku"))
    .with_for_update()
)
# Several stock rows, locked in SKU order (docs/decisions/0002-lock-order-by-sku.md).
STOCK_MANY_UNLOCKED = (
    select(stock.c.sku, stock.c.on_hand, stock.c.reserved, stock.c.version)
    .where(stock.c.sku.in_(bindparam("skus", expanding=True)))
    .order_by(stock.c.sku)
)
STOCK_MANY = STOCK_MANY_UNLOCKED.with_for_update()
# Placing an order on PostgreSQL reads stock without locking it, then applies its change
# to `reserved` here, as late as the transaction allows: the row lock is held from this
# statement to COMMIT only, and the condition refuses to reserve past `on_hand`.
_DELTA = bindparam("delta", type_=stock.c.reserved.type)
STOCK_RESERVE = (
    update(stock)
    .where(
        stock.c.sku == bindparam("k_sku"),
        stock.c.reserved + _DELTA <= stock.c.on_hand,
        stock.c.reserved + _DELTA >= literal_column("0"),
    )
    # Constants as SQL, not parameters: adapters/sql/bulk.py sends only the rows' values.
    .values(reserved=stock.c.reserved + _DELTA, version=stock.c.version + literal_column("1"))
)
# The same change where the placement's writes and COMMIT go to PostgreSQL in one round
# trip (adapters/sql/pipelined_commit.py): no row count is seen before COMMIT, so a
# shortage must fail the statement instead of matching no row. The table's CHECK
# constraint (reserved_within_on_hand) refuses it; the row exists, since the placement's
# reservation of that SKU, inserted just before, references it.
STOCK_RESERVE_OR_FAIL = (
    update(stock)
    .where(stock.c.sku == bindparam("k_sku"))
    .values(reserved=stock.c.reserved + _DELTA, version=stock.c.version + literal_column("1"))
)
STOCK_INSERT = insert(stock)
STOCK_UPDATE = update(stock).where(
    stock.c.sku == bindparam("k_sku"), stock.c.version == bindparam("k_version")
)
# One order's reservations (ix_stock_reservations_order_id), unlocked: the order's row
# lock already serialises the commands that end them.
RESERVATIONS_OF_ORDER = (
    select(stock_reservations.c.sku, stock_reservations.c.quantity)
    .where(stock_reservations.c.order_id == bindparam("order_id"))
    .order_by(stock_reservations.c.sku)
)
RESERVATION_INSERT = insert(stock_reservations)
RESERVATION_UPDATE = update(stock_reservations).where(
    stock_reservations.c.sku == bindparam("k_sku"),
    stock_reservations.c.order_id == bindparam("k_order_id"),
)
RESERVATION_DELETE = delete(stock_reservations).where(
    stock_reservations.c.sku == bindparam("sku"),
    stock_reservations.c.order_id == bindparam("order_id"),
)

# An order with its lines, in line order; only the order row is locked.
_ORDER_ROWS = select(
    orders, order_lines.c.sku, order_lines.c.quantity, order_lines.c.unit_price
).select_from(orders.outerjoin(order_lines, order_lines.c.order_id == orders.c.id))
# One round trip for an order and its lines.
ORDER_GET = (
    _ORDER_ROWS.where(orders.c.id == bindparam("id"))
    .order_by(order_lines.c.position)
    .with_for_update(of=orders)
)
# Several orders at once (batched event handlers), in id order: the lock order. The
# batched handlers' lists are sent as arrays on PostgreSQL (adapters/sql/lists.py).
#
# On PostgreSQL each order's lines come from a LATERAL subquery that OFFSET 0 keeps
# from being merged into a plain join: a join of 40 orders with their lines was
# planned, on tables that had never been analyzed (autovacuum off, or not yet run),
# as a hash join over a sequential scan of every order line, a cost that grew with
# every order placed (docs/performance.md, "Plans without statistics"). The lateral
# form can only be run order by order, each through the lines' primary key.
_LINES_OF_ORDER = (
    select(
        order_lines.c.sku, order_lines.c.quantity, order_lines.c.unit_price, order_lines.c.position
    )
    .where(order_lines.c.order_id == orders.c.id)
    .offset(literal_column("0"))
    .lateral("lines")
)
ORDERS_GET_MANY = ByDialect(
    postgresql=(
        select(
            orders, _LINES_OF_ORDER.c.sku, _LINES_OF_ORDER.c.quantity, _LINES_OF_ORDER.c.unit_price
        )
        .select_from(orders.outerjoin(_LINES_OF_ORDER, true()))
        .where(orders.c.id == any_(bindparam("ids", type_=ARRAY(orders.c.id.type))))
        .order_by(orders.c.id, _LINES_OF_ORDER.c.position)
        .with_for_update(of=orders)
    ),
    other=(
        _ORDER_ROWS.where(orders.c.id.in_(bindparam("ids", expanding=True)))
        .order_by(orders.c.id, order_lines.c.position)
        .with_for_update(of=orders)
    ),
)
ORDER_INSERT = insert(orders)
ORDER_LINES_INSERT = insert(order_lines)
ORDER_UPDATE = update(orders).where(
    orders.c.id == bindparam("k_id"), orders.c.version == bindparam("k_version")
)
ORDERS_PENDING = (
    select(orders.c.id)
    .where(
        orders.c.status == OrderStatus.PENDING_PAYMENT.value,
        orders.c.created_at < bindparam("cutoff", type_=orders.c.created_at.type),
    )
    .order_by(orders.c.created_at, orders.c.id)
    .limit(bindparam("limit"))
)

PAYMENT_GET = select(payments).where(payments.c.order_id == bindparam("order_id")).with_for_update()
PAYMENTS_GET_MANY = with_list(
    lambda in_list: (
        select(payments)
        .where(in_list(payments.c.order_id, "ids"))
        .order_by(payments.c.order_id)
        .with_for_update()
    )
)
PAYMENT_INSERT = insert(payments)
PAYMENT_UPDATE = update(payments).where(
    payments.c.order_id == bindparam("k_order_id"), payments.c.version == bindparam("k_version")
)

PRINCIPAL_BY = {
    column: select(principals).where(principals.c[column] == bindparam("value")).with_for_update()
    for column in ("id", "name", "key_hash")
}
PRINCIPAL_INSERT = insert(principals)
PRINCIPAL_UPDATE = update(principals).where(
    principals.c.id == bindparam("k_id"), principals.c.version == bindparam("k_version")
)

IDEMPOTENCY_GET = select(idempotency_keys).where(
    idempotency_keys.c.principal_id == bindparam("principal_id"),
    idempotency_keys.c.key == bindparam("key"),
)
IDEMPOTENCY_INSERT = insert(idempotency_keys)
IDEMPOTENCY_PURGE = delete(idempotency_keys).where(
    idempotency_keys.c.created_at < bindparam("cutoff", type_=idempotency_keys.c.created_at.type)
)

# On PostgreSQL, one primary-key lookup per event id, for the reason ORDERS_GET_MANY
# gives: planned without statistics, `handler = ? AND event_id = ANY(?)` used the index
# for the handler only and filtered every event that handler had ever processed.
_WANTED_EVENTS = (
    func.unnest(bindparam("event_ids", type_=ARRAY(processed_events.c.event_id.type)))
    .table_valued("event_id")
    .render_derived(name="wanted")
)
_SEEN_EVENT = (
    select(processed_events.c.event_id)
    .where(
        processed_events.c.handler == bindparam("handler"),
        processed_events.c.event_id == _WANTED_EVENTS.c.event_id,
    )
    .offset(literal_column("0"))
    .lateral("seen")
)
INBOX_SEEN_MANY = ByDialect(
    postgresql=select(_SEEN_EVENT.c.event_id).select_from(_WANTED_EVENTS.join(_SEEN_EVENT, true())),
    other=select(processed_events.c.event_id).where(
        processed_events.c.handler == bindparam("handler"),
        processed_events.c.event_id.in_(bindparam("event_ids", expanding=True)),
    ),
)
INBOX_INSERT = insert(processed_events)

# Queued writes that must each match exactly one row: the versioned UPDATEs, and a
# reservation's update or removal (no row: another transaction ended it, so it is never
# given back twice).
ONE_ROW_EACH = frozenset(
    {PRODUCT_UPDATE, STOCK_UPDATE, STOCK_RESERVE, RESERVATION_UPDATE, RESERVATION_DELETE}
)
