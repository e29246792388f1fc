"""Repositories over one connection in one write transaction, with Core statements.

Loads lock what they return (`FOR UPDATE` on PostgreSQL; on SQLite the unit of
work already holds the database's single write lock, and SQLAlchemy renders no
`FOR UPDATE` there). Saves are conditional on the version that was loaded:
`UPDATE ... WHERE key = :key AND version = :loaded`; no row means another
transaction moved it, and ConcurrencyConflict lets the use case retry. Product
and stock writes are queued and sent in batches (WriteQueue), so their conflicts
surface at commit at the latest.

Statements are built once at import and reused, so each execution is a cache hit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Executable,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy import exc as sa_exc

from adapters.sql import mapping
from adapters.sql.bulk import execute_many
from adapters.sql.errors import is_unique_violation
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
from core.domain.catalog import Product
from core.domain.events import EventRecorder
from core.domain.idempotency import IdempotencyRecord
from core.domain.orders import Order, OrderStatus
from core.domain.payments import Payment
from core.domain.principals import Principal
from core.domain.stock import StockItem
from core.ports.errors import ConcurrencyConflict, DuplicateIdempotencyKey
from core.ports.system import Clock

Track = Callable[[EventRecorder], None]

# --- statements ---------------------------------------------------------------

_PRODUCT_GET = select(products).where(products.c.sku == bindparam("sku")).with_for_update()
_PRODUCTS_MANY = (
    select(products)
    .where(products.c.sku.in_(bindparam("skus", expanding=True)))
    .order_by(products.c.sku)  # locks in key order: concurrent loads cannot deadlock
    .with_for_update()
)
_PRODUCT_INSERT = insert(products)
_PRODUCT_UPDATE = update(products).where(
    products.c.sku == bindparam("k_sku"), products.c.version == bindparam("k_version")
)

_STOCK_GET = (
    select(stock.c.sku, stock.c.on_hand, stock.c.reserved, stock.c.version)
    .where(stock.c.sku == bindparam("sku"))
    .with_for_update()
)
# Stock rows locked in SKU order, each with the one reservation of the order at hand.
_STOCK_FOR_ORDER_UNLOCKED = (
    select(
        stock.c.sku,
        stock.c.on_hand,
        stock.c.reserved,
        stock.c.version,
        stock_reservations.c.quantity,
    )
    .select_from(
        stock.outerjoin(
            stock_reservations,
            and_(
                stock_reservations.c.sku == stock.c.sku,
                stock_reservations.c.order_id == bindparam("order_id"),
            ),
        )
    )
    .where(stock.c.sku.in_(bindparam("skus", expanding=True)))
    .order_by(stock.c.sku)
)
_STOCK_FOR_ORDER = _STOCK_FOR_ORDER_UNLOCKED.with_for_update(of=stock)
# Placing an order on PostgreSQL reads stock without locking it, then applies its change
# to `reserved` here, as late as the transaction allows: the row lock is held from this
# statement to COMMIT only, and the condition refuses to reserve past `on_hand`.
_DELTA = bindparam("delta", type_=stock.c.reserved.type)
_STOCK_RESERVE = (
    update(stock)
    .where(
        stock.c.sku == bindparam("k_sku"),
        stock.c.reserved + _DELTA <= stock.c.on_hand,
        stock.c.reserved + _DELTA >= literal_column("0"),
    )
    # Constants as SQL, not parameters: adapters/sql/bulk.py sends only the rows' values.
    .values(reserved=stock.c.reserved + _DELTA, version=stock.c.version + literal_column("1"))
)
_STOCK_INSERT = insert(stock)
_STOCK_UPDATE = update(stock).where(
    stock.c.sku == bindparam("k_sku"), stock.c.version == bindparam("k_version")
)
_RESERVATION_INSERT = insert(stock_reservations)
_RESERVATION_UPDATE = update(stock_reservations).where(
    stock_reservations.c.sku == bindparam("k_sku"),
    stock_reservations.c.order_id == bindparam("k_order_id"),
)
_RESERVATION_DELETE = delete(stock_reservations).where(
    stock_reservations.c.sku == bindparam("sku"),
    stock_reservations.c.order_id == bindparam("order_id"),
)

# One round trip for an order and its lines; only the order row is locked.
_ORDER_GET = (
    select(
        orders,
        order_lines.c.sku,
        order_lines.c.quantity,
        order_lines.c.unit_price,
    )
    .select_from(orders.outerjoin(order_lines, order_lines.c.order_id == orders.c.id))
    .where(orders.c.id == bindparam("id"))
    .order_by(order_lines.c.position)
    .with_for_update(of=orders)
)
# Several orders at once (batched event handlers), in id order: the lock order.
_ORDERS_GET_MANY = (
    select(
        orders,
        order_lines.c.sku,
        order_lines.c.quantity,
        order_lines.c.unit_price,
    )
    .select_from(orders.outerjoin(order_lines, order_lines.c.order_id == orders.c.id))
    .where(orders.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(orders.c.id, order_lines.c.position)
    .with_for_update(of=orders)
)
_ORDER_INSERT = insert(orders)
_ORDER_LINES_INSERT = insert(order_lines)
_ORDER_UPDATE = update(orders).where(
    orders.c.id == bindparam("k_id"), orders.c.version == bindparam("k_version")
)
_ORDERS_PENDING = (
    select(orders.c.id)
    .where(
        orders.c.status == OrderStatus.PENDING_PAYMENT.value,
        orders.c.created_at < bindparam("cutoff", type_=orders.c.created_at.type),
    )
    .order_by(orders.c.created_at, orders.c.id)
    .limit(bindparam("limit"))
)

_PAYMENT_GET = (
    select(payments).where(payments.c.order_id == bindparam("order_id")).with_for_update()
)
_PAYMENTS_GET_MANY = (
    select(payments)
    .where(payments.c.order_id.in_(bindparam("ids", expanding=True)))
    .order_by(payments.c.order_id)
    .with_for_update()
)
_PAYMENT_INSERT = insert(payments)
_PAYMENT_UPDATE = update(payments).where(
    payments.c.order_id == bindparam("k_order_id"), payments.c.version == bindparam("k_version")
)

_PRINCIPAL_BY = {
    column: select(principals).where(principals.c[column] == bindparam("value")).with_for_update()
    for column in ("id", "name", "key_hash")
}
_PRINCIPAL_INSERT = insert(principals)
_PRINCIPAL_UPDATE = update(principals).where(
    principals.c.id == bindparam("k_id"), principals.c.version == bindparam("k_version")
)

_IDEMPOTENCY_GET = select(idempotency_keys).where(
    idempotency_keys.c.principal_id == bindparam("principal_id"),
    idempotency_keys.c.key == bindparam("key"),
)
_IDEMPOTENCY_INSERT = insert(idempotency_keys)
_IDEMPOTENCY_PURGE = delete(idempotency_keys).where(
    idempotency_keys.c.created_at < bindparam("cutoff", type_=idempotency_keys.c.created_at.type)
)

_INBOX_SEEN = select(
    exists().where(
        processed_events.c.handler == bindparam("handler"),
        processed_events.c.event_id == bindparam("event_id"),
    )
)
_INBOX_SEEN_MANY = select(processed_events.c.event_id).where(
    processed_events.c.handler == bindparam("handler"),
    processed_events.c.event_id.in_(bindparam("event_ids", expanding=True)),
)
_INBOX_INSERT = insert(processed_events)

# Versioned UPDATEs: each must match exactly one row.
_VERSIONED = frozenset({_PRODUCT_UPDATE, _STOCK_UPDATE, _STOCK_RESERVE})


# --- shared mechanics ---------------------------------------------------------


class _Repository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        # Version of each aggregate as loaded in this unit of work: what `save` expects.
        self._loaded: dict[Hashable, int] = {}

    def _insert(
        self, statement: Executable, params: Any, duplicate: Callable[[], Exception]
    ) -> None:
        try:
            self._conn.execute(statement, params)
        except sa_exc.IntegrityError as exc:
            if is_unique_violation(exc):
                raise duplicate() from exc
            raise

    def _update(
        self, statement: Executable, key: Hashable, version: int, params: dict[str, Any]
    ) -> None:
        """Run a versioned UPDATE; ConcurrencyConflict if the row is gone or moved on.

        An aggregate that was not loaded in this unit of work has no known version:
        it must still exist, as in the in-memory adapter.
        """
        expected = self._loaded.get(key)
        if expected is None:
            params["k_version"] = self._current_version(key)
            if params["k_version"] is None:
                raise ConcurrencyConflict(f"{key!r} is not stored")
        else:
            params["k_version"] = expected
        if self._conn.execute(statement, params).rowcount != 1:
            raise ConcurrencyConflict(f"{key!r} was changed by another transaction")
        self._loaded[key] = version

    def _update_many(
        self, statement: Executable, items: list[tuple[Hashable, int, dict[str, Any]]]
    ) -> None:
        """Versioned UPDATEs of several rows as one executemany (batched event handlers);
        ConcurrencyConflict unless every one matched its row."""
        if len(items) == 1:
            key, version, params = items[0]
            self._update(statement, key, version, params)
            return
        for key, _, params in items:
            expected = self._loaded.get(key)
            params["k_version"] = expected if expected is not None else self._current_version(key)
            if params["k_version"] is None:
                raise ConcurrencyConflict(f"{key!r} is not stored")
        if self._conn.execute(statement, [params for _, _, params in items]).rowcount != len(items):
            raise ConcurrencyConflict("a row was changed by another transaction")
        for key, version, _ in items:
            self._loaded[key] = version

    def _current_version(self, key: Hashable) -> int | None:
        raise NotImplementedError


# --- repositories -------------------------------------------------------------


class WriteQueue:
    """Product and stock writes of one unit of work, sent in batches.

    Repositories queue their INSERTs and versioned UPDATEs here; `flush` sends them
    as one executemany per statement, in foreign-key order (products, stock, then
    reservations; each table's writes in the order they were made). The unit of
    work flushes before commit, and a repository before it reads a row that has
    queued writes, so reads always see this unit of work's own writes. Placing a
    3-line order sends 2 stock statements instead of 6; importing 1,000 new
    products sends 2 INSERTs instead of 2,000. The rows were locked when loaded,
    so a version check made at flush time loses nothing.
    """

    # Steps, in the order they are flushed.
    PRODUCT_INSERTS, PRODUCT_UPDATES, STOCK_INSERTS, STOCK_UPDATES, RESERVATIONS = range(5)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._steps: list[list[tuple[Executable, dict[str, Any]]]] = [[] for _ in range(5)]
        self._dirty: set[tuple[str, str]] = set()  # (table, sku) with queued writes

    def put(
        self, step: int, table: str, sku: str, statement: Executable, params: dict[str, Any]
    ) -> None:
        self._steps[step].append((statement, params))
        self._dirty.add((table, sku))

    def flush_for(self, table: str, skus: Iterable[str]) -> None:
        """Flush if any of these rows has queued writes (a read is about to see them)."""
        if self._dirty and any((table, sku) in self._dirty for sku in skus):
            self.flush()

    def flush(self) -> None:
        self._dirty.clear()
        for step in self._steps:
            queued = step[:]
            step.clear()
            start = 0
            while start < len(queued):  # one executemany per run of the same statement
                statement, end = queued[start][0], start
                while end < len(queued) and queued[end][0] is statement:
                    end += 1
                batch = [params for _, params in queued[start:end]]
                if statement is _STOCK_RESERVE:  # rows locked in SKU order: no deadlock
                    batch.sort(key=lambda params: str(params["k_sku"]))
                self._send(statement, batch)
                start = end

    def _send(self, statement: Executable, batch: list[dict[str, Any]]) -> None:
        try:
            rowcount = execute_many(self._conn, statement, batch)
        except sa_exc.IntegrityError as exc:
            if is_unique_violation(exc):
                raise ConcurrencyConflict("a row was added concurrently") from exc
            raise
        if statement in _VERSIONED and rowcount != len(batch):
            raise ConcurrencyConflict("a row was changed by another transaction")


class SqlProductRepository(_Repository):
    def __init__(self, conn: Connection, queue: WriteQueue, track: Track) -> None:
        super().__init__(conn)
        self._queue = queue
        self._track = track

    def _loaded_product(self, row: mapping.Row) -> Product:
        product = mapping.product_from_row(row)
        self._loaded[product.sku] = product.version
        return product

    def get(self, sku: str) -> Product | None:
        self._queue.flush_for("products", (sku,))
        row = self._conn.execute(_PRODUCT_GET, {"sku": sku}).mappings().first()
        return None if row is None else self._loaded_product(row)

    def get_many(self, skus: Iterable[str]) -> dict[str, Product]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        self._queue.flush_for("products", wanted)
        rows = self._conn.execute(_PRODUCTS_MANY, {"skus": wanted}).mappings()
        return {row["sku"]: self._loaded_product(row) for row in rows}

    def add(self, product: Product) -> None:
        # A duplicate SKU fails at flush (ConcurrencyConflict), as a concurrent add would.
        values = mapping.product_values(product)
        self._queue.put(
            WriteQueue.PRODUCT_INSERTS, "products", product.sku, _PRODUCT_INSERT, values
        )
        self._loaded[product.sku] = product.version
        self._track(product)

    def save(self, product: Product) -> None:
        values = mapping.product_values(product)
        values["k_sku"] = values.pop("sku")
        del values["created_at"]
        values["k_version"] = self._expected_version(product.sku)
        self._queue.put(
            WriteQueue.PRODUCT_UPDATES, "products", product.sku, _PRODUCT_UPDATE, values
        )
        self._loaded[product.sku] = product.version
        self._track(product)

    def _expected_version(self, sku: str) -> int:
        """The version loaded here; for a product not loaded here, the stored one."""
        expected = self._loaded.get(sku)
        if expected is None:
            self._queue.flush_for("products", (sku,))
            expected = self._current_version(sku)
            if expected is None:
                raise ConcurrencyConflict(f"product {sku} is not stored")
        return expected

    def _current_version(self, key: Hashable) -> int | None:
        row = self._conn.execute(_PRODUCT_GET, {"sku": key}).first()
        return None if row is None else int(row.version)


class SqlStockRepository(_Repository):
    """Stock rows carry the `reserved` total; reservations live in their own table.

    A stock item is handed out with no reservations (`get`) or with one order's
    (`get_for_order`); `save` writes the counters and syncs that one reservation.
    Writes go through the unit of work's WriteQueue.
    """

    def __init__(self, conn: Connection, queue: WriteQueue, track: Track) -> None:
        super().__init__(conn)
        self._queue = queue
        self._track = track
        # sku -> (order whose reservation was loaded, its quantity then), or None.
        self._scope: dict[str, tuple[str, int | None] | None] = {}
        # sku -> (on_hand, reserved) as read without a lock (get_for_order(lock=False)).
        self._unlocked: dict[str, tuple[int, int]] = {}

    def get(self, sku: str) -> StockItem | None:
        self._queue.flush_for("stock", (sku,))
        row = self._conn.execute(_STOCK_GET, {"sku": sku}).first()
        if row is None:
            return None
        self._loaded[sku] = row.version
        self._scope[sku] = None
        return StockItem(sku, row.on_hand, row.reserved, None, row.version)

    def get_for_order(
        self, skus: Sequence[str], order_id: str, lock: bool = True
    ) -> dict[str, StockItem]:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        self._queue.flush_for("stock", wanted)
        found = {}
        # SQLite has no row locks (the unit of work holds the only write lock): only
        # PostgreSQL takes the late path.
        late = not lock and self._conn.dialect.name == "postgresql"
        statement = _STOCK_FOR_ORDER_UNLOCKED if late else _STOCK_FOR_ORDER
        for row in self._conn.execute(statement, {"skus": wanted, "order_id": order_id}):
            held = row.quantity
            reservations = {order_id: held} if held is not None else None
            found[row.sku] = StockItem(
                row.sku, row.on_hand, row.reserved, reservations, row.version
            )
            self._loaded[row.sku] = row.version
            self._scope[row.sku] = (order_id, held)
            if late:
                self._unlocked[row.sku] = (row.on_hand, row.reserved)
        return found

    def add(self, item: StockItem) -> None:
        values = {
            "sku": item.sku,
            "on_hand": item.on_hand,
            "reserved": item.reserved,
            "version": item.version,
        }
        self._queue.put(WriteQueue.STOCK_INSERTS, "stock", item.sku, _STOCK_INSERT, values)
        for order_id, quantity in item.reservations.items():
            self._reservation(
                _RESERVATION_INSERT, item.sku, {"order_id": order_id, "quantity": quantity}
            )
        self._loaded[item.sku] = item.version
        self._scope[item.sku] = None
        self._track(item)

    def save(self, item: StockItem) -> None:
        unlocked = self._unlocked.pop(item.sku, None)
        if unlocked is not None and unlocked[0] == item.on_hand:
            # Read without a lock: apply the change to `reserved` as a delta, conditional
            # on what is there at that moment (no row: ConcurrencyConflict, and the use
            # case reads again and sees the shortage).
            values = {"k_sku": item.sku, "delta": item.reserved - unlocked[1]}
            self._queue.put(WriteQueue.STOCK_UPDATES, "stock", item.sku, _STOCK_RESERVE, values)
            self._loaded.pop(item.sku, None)  # its version moves on without us
            self._sync_scope(item)
            self._track(item)
            return
        expected = self._loaded.get(item.sku)
        if expected is None:  # not loaded here: it must exist, whatever its version
            self._queue.flush_for("stock", (item.sku,))
            expected = self._current_version(item.sku)
            if expected is None:
                raise ConcurrencyConflict(f"stock for {item.sku} does not exist")
        values = {
            "k_sku": item.sku,
            "k_version": expected,
            "on_hand": item.on_hand,
            "reserved": item.reserved,
            "version": item.version,
        }
        self._queue.put(WriteQueue.STOCK_UPDATES, "stock", item.sku, _STOCK_UPDATE, values)
        self._loaded[item.sku] = item.version
        self._sync_scope(item)
        self._track(item)

    def _sync_scope(self, item: StockItem) -> None:
        scope = self._scope.get(item.sku)
        if scope is not None:
            order_id, held = scope
            now = item.reservations.get(order_id)
            if now != held:
                self._sync_reservation(item.sku, order_id, held, now)

    def _sync_reservation(self, sku: str, order_id: str, held: int | None, now: int | None) -> None:
        if held is None:
            self._reservation(_RESERVATION_INSERT, sku, {"order_id": order_id, "quantity": now})
        elif now is None:
            self._reservation(_RESERVATION_DELETE, sku, {"order_id": order_id})
        else:
            self._reservation(
                _RESERVATION_UPDATE, sku, {"k_sku": sku, "k_order_id": order_id, "quantity": now}
            )
        self._scope[sku] = (order_id, now)

    def _reservation(self, statement: Executable, sku: str, params: dict[str, Any]) -> None:
        if statement is not _RESERVATION_UPDATE:
            params["sku"] = sku
        self._queue.put(WriteQueue.RESERVATIONS, "stock", sku, statement, params)

    def _current_version(self, key: Hashable) -> int | None:
        row = self._conn.execute(_STOCK_GET, {"sku": key}).first()
        return None if row is None else int(row.version)


class SqlOrderRepository(_Repository):
    def __init__(self, conn: Connection, track: Track) -> None:
        super().__init__(conn)
        self._track = track

    def get(self, order_id: str) -> Order | None:
        rows = self._conn.execute(_ORDER_GET, {"id": order_id}).mappings().all()
        if not rows:
            return None
        order = mapping.order_from_rows(rows[0], rows if rows[0]["sku"] is not None else [])
        self._loaded[order.id] = order.version
        return order

    def get_many(self, order_ids: Sequence[str]) -> dict[str, Order]:
        if not order_ids:
            return {}
        grouped: dict[str, list[Any]] = {}
        for row in self._conn.execute(_ORDERS_GET_MANY, {"ids": list(order_ids)}).mappings():
            grouped.setdefault(row["id"], []).append(row)
        found = {}
        for order_id, rows in grouped.items():
            order = mapping.order_from_rows(rows[0], rows if rows[0]["sku"] is not None else [])
            self._loaded[order_id] = order.version
            found[order_id] = order
        return found

    def add(self, order: Order) -> None:
        self._insert(
            _ORDER_INSERT,
            mapping.order_values(order),
            lambda: ConcurrencyConflict(f"order {order.id} exists"),
        )
        self._conn.execute(_ORDER_LINES_INSERT, mapping.order_line_values(order))
        self._loaded[order.id] = order.version
        self._track(order)

    def save(self, order: Order) -> None:
        self.save_many([order])

    def save_many(self, orders: Sequence[Order]) -> None:
        items: list[tuple[Hashable, int, dict[str, Any]]] = []
        for order in orders:
            values = mapping.order_values(order)
            values["k_id"] = values.pop("id")
            for fixed in ("customer_id", "currency", "total", "created_at"):
                del values[fixed]
            items.append((order.id, order.version, values))
        if items:
            self._update_many(_ORDER_UPDATE, items)
        for order in orders:
            self._track(order)

    def pending_before(self, cutoff: datetime, limit: int) -> list[str]:
        rows = self._conn.execute(_ORDERS_PENDING, {"cutoff": cutoff, "limit": limit})
        return [row.id for row in rows]

    def _current_version(self, key: Hashable) -> int | None:
        row = self._conn.execute(_ORDER_GET, {"id": key}).first()
        return None if row is None else int(row.version)


class SqlPaymentRepository(_Repository):
    def get(self, order_id: str) -> Payment | None:
        row = self._conn.execute(_PAYMENT_GET, {"order_id": order_id}).mappings().first()
        if row is None:
            return None
        payment = mapping.payment_from_row(row)
        self._loaded[order_id] = payment.version
        return payment

    def get_many(self, order_ids: Sequence[str]) -> dict[str, Payment]:
        if not order_ids:
            return {}
        found = {}
        for row in self._conn.execute(_PAYMENTS_GET_MANY, {"ids": list(order_ids)}).mappings():
            payment = mapping.payment_from_row(row)
            self._loaded[payment.order_id] = payment.version
            found[payment.order_id] = payment
        return found

    def add(self, payment: Payment) -> None:
        self._insert(
            _PAYMENT_INSERT,
            mapping.payment_values(payment),
            lambda: ConcurrencyConflict(f"payment for {payment.order_id} exists"),
        )
        self._loaded[payment.order_id] = payment.version

    def add_many(self, payments: Sequence[Payment]) -> None:
        if not payments:
            return
        self._insert(
            _PAYMENT_INSERT,
            [mapping.payment_values(payment) for payment in payments],
            lambda: ConcurrencyConflict("a payment was added concurrently"),
        )
        for payment in payments:
            self._loaded[payment.order_id] = payment.version

    def save(self, payment: Payment) -> None:
        self.save_many([payment])

    def save_many(self, payments: Sequence[Payment]) -> None:
        items: list[tuple[Hashable, int, dict[str, Any]]] = []
        for payment in payments:
            values = mapping.payment_values(payment)
            values["k_order_id"] = values.pop("order_id")
            items.append((payment.order_id, payment.version, values))
        if items:
            self._update_many(_PAYMENT_UPDATE, items)

    def _current_version(self, key: Hashable) -> int | None:
        row = self._conn.execute(_PAYMENT_GET, {"order_id": key}).first()
        return None if row is None else int(row.version)


class SqlPrincipalRepository(_Repository):
    def _by(self, column: str, value: str) -> Principal | None:
        row = self._conn.execute(_PRINCIPAL_BY[column], {"value": value}).mappings().first()
        if row is None:
            return None
        principal = mapping.principal_from_row(row)
        self._loaded[principal.id] = principal.version
        return principal

    def get(self, principal_id: str) -> Principal | None:
        return self._by("id", principal_id)

    def get_by_name(self, name: str) -> Principal | None:
        return self._by("name", name)

    def get_by_key_hash(self, key_hash: str) -> Principal | None:
        return self._by("key_hash", key_hash)

    def add(self, principal: Principal) -> None:
        self._insert(
            _PRINCIPAL_INSERT,
            mapping.principal_values(principal),
            lambda: ConcurrencyConflict(f"principal {principal.name} exists"),
        )
        self._loaded[principal.id] = principal.version

    def save(self, principal: Principal) -> None:
        values = mapping.principal_values(principal)
        values["k_id"] = values.pop("id")
        self._update(_PRINCIPAL_UPDATE, principal.id, principal.version, values)

    def _current_version(self, key: Hashable) -> int | None:
        row = self._conn.execute(_PRINCIPAL_BY["id"], {"value": key}).first()
        return None if row is None else int(row.version)


class SqlIdempotencyRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, principal_id: str, key: str) -> IdempotencyRecord | None:
        row = (
            self._conn.execute(_IDEMPOTENCY_GET, {"principal_id": principal_id, "key": key})
            .mappings()
            .first()
        )
        return None if row is None else mapping.idempotency_from_row(row)

    def add(self, record: IdempotencyRecord) -> None:
        # The primary key decides between concurrent requests with the same key: the
        # loser's insert waits for the winner's commit (PostgreSQL) or its write lock
        # (SQLite), then fails here, and the use case replays the winner's response.
        try:
            self._conn.execute(_IDEMPOTENCY_INSERT, mapping.idempotency_values(record))
        except sa_exc.IntegrityError as exc:
            if is_unique_violation(exc):
                raise DuplicateIdempotencyKey(record.key) from exc
            raise

    def purge_older_than(self, cutoff: datetime) -> int:
        return int(self._conn.execute(_IDEMPOTENCY_PURGE, {"cutoff": cutoff}).rowcount)


class SqlInbox:
    def __init__(self, conn: Connection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    def seen(self, handler: str, event_id: str) -> bool:
        return bool(
            self._conn.execute(_INBOX_SEEN, {"handler": handler, "event_id": event_id}).scalar()
        )

    def add(self, handler: str, event_id: str) -> None:
        try:
            self._conn.execute(
                _INBOX_INSERT,
                {"handler": handler, "event_id": event_id, "processed_at": self._clock.now()},
            )
        except sa_exc.IntegrityError as exc:
            if is_unique_violation(exc):
                raise ConcurrencyConflict(f"{handler} already processed {event_id}") from exc
            raise

    def seen_many(self, handler: str, event_ids: Sequence[str]) -> set[str]:
        if not event_ids:
            return set()
        rows = self._conn.execute(
            _INBOX_SEEN_MANY, {"handler": handler, "event_ids": list(event_ids)}
        )
        return {row.event_id for row in rows}

    def add_many(self, handler: str, event_ids: Sequence[str]) -> None:
        if not event_ids:
            return
        now = self._clock.now()
        rows = [{"handler": handler, "event_id": e, "processed_at": now} for e in event_ids]
        try:
            self._conn.execute(_INBOX_INSERT, rows)
        except sa_exc.IntegrityError as exc:
            if is_unique_violation(exc):
                raise ConcurrencyConflict(f"{handler} already processed some events") from exc
            raise
