"""Order commands: place, cancel, ship, and the payment-timeout sweep."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from core.domain.errors import (
    FieldProblem,
    IdempotencyKeyReused,
    InsufficientStock,
    NotFound,
    Shortage,
    UnorderableProduct,
    VersionMismatch,
)
from core.domain.idempotency import IdempotencyRecord, validate_idempotency_key
from core.domain.orders import (
    CancelReason,
    Order,
    OrderLine,
    OrderStatus,
    RequestedLine,
    validate_lines,
)
from core.ports.errors import ConcurrencyConflict, DuplicateIdempotencyKey
from core.ports.queries import OrderView
from core.ports.system import Clock, IdGenerator
from core.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from core.use_cases.reservations import commit_reservations, release_reservations
from core.use_cases.support import Actor, Changed, require_plausible_order_id, with_retries
from core.use_cases.views import order_view, order_view_from_dict, order_view_to_dict


@dataclass(frozen=True)
class PlaceOrderCommand:
    customer_id: str
    lines: list[RequestedLine]
    idempotency_key: str | None = None


@dataclass(frozen=True)
class PlaceOrderResult:
    order: OrderView
    replayed: bool = False  # the idempotency key's first answer, given again

    @property
    def changed(self) -> bool:
        return not self.replayed


@dataclass(frozen=True)
class CancelResult(Changed[OrderView]):
    refund_due: bool = False  # it was paid: the payment handler refunds it


def request_fingerprint(lines: list[RequestedLine]) -> str:
    """Same lines in the same order give the same fingerprint (the body's meaning)."""
    canonical = json.dumps([[ln.sku, ln.quantity] for ln in lines], separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class PlaceOrder:
    """Reserve every line and create the order in one transaction, or nothing at all."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, currency: str
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._currency = currency

    def __call__(self, cmd: PlaceOrderCommand) -> PlaceOrderResult:
        validate_lines(cmd.lines)
        if cmd.idempotency_key is not None:
            validate_idempotency_key(cmd.idempotency_key)
        # Only a keyed request is ever compared with an earlier one.
        fingerprint = request_fingerprint(cmd.lines) if cmd.idempotency_key is not None else ""
        # A lost race: a concurrent retry stored the key first (the next attempt replays
        # it) or stock moved under us (the next attempt reads it again).
        return with_retries(
            lambda: self._attempt(cmd, fingerprint),
            retry_on=(ConcurrencyConflict, DuplicateIdempotencyKey),
        )

    def _attempt(self, cmd: PlaceOrderCommand, fingerprint: str) -> PlaceOrderResult:
        with self._uow() as uow:
            if cmd.idempotency_key is not None:
                record = uow.idempotency.get(cmd.customer_id, cmd.idempotency_key)
                if record is not None:
                    if record.fingerprint != fingerprint:
                        raise IdempotencyKeyReused(
                            "this idempotency key was used with a different request body",
                            [FieldProblem("idempotency_key", "already used with another body")],
                        )
                    return PlaceOrderResult(order_view_from_dict(record.response), replayed=True)
            order = self._reserve_and_create(uow, cmd)
            view = order_view(order)
            if cmd.idempotency_key is not None:
                uow.idempotency.add(
                    IdempotencyRecord(
                        principal_id=cmd.customer_id,
                        key=cmd.idempotency_key,
                        fingerprint=fingerprint,
                        order_id=order.id,
                        response=order_view_to_dict(view),
                        created_at=order.created_at,
                    )
                )
            uow.commit()
            return PlaceOrderResult(view)

    def _reserve_and_create(self, uow: UnitOfWork, cmd: PlaceOrderCommand) -> Order:
        skus = [ln.sku for ln in cmd.lines]
        # Unlocked: a placement only reads the price and the flag (see the port).
        products = uow.products.get_many(skus, lock=False)
        problems = []
        for index, ln in enumerate(cmd.lines):
            product = products.get(ln.sku)
            if product is None:
                problems.append(FieldProblem(f"lines[{index}].sku", f"unknown SKU {ln.sku}"))
            elif not product.active:
                problems.append(FieldProblem(f"lines[{index}].sku", f"SKU {ln.sku} is inactive"))
        if problems:
            names = ", ".join(p.message for p in problems)
            raise UnorderableProduct(f"cannot order: {names}", problems)

        order_id = self._ids.new_id()
        # Read in SKU order; with row locks, they are taken by the reservation itself,
        # late, in SKU order (no deadlock), and a lost race is retried (see the port).
        # A new order holds no reservations yet: none are loaded.
        stock = uow.stock.get_many(sorted(skus), lock=False)
        shortages = [
            Shortage(ln.sku, ln.quantity, stock[ln.sku].available if ln.sku in stock else 0)
            for ln in cmd.lines
            if ln.sku not in stock or not stock[ln.sku].can_reserve(ln.quantity)
        ]
        if shortages:
            raise InsufficientStock(shortages)
        for ln in cmd.lines:
            item = stock[ln.sku]
            reservation = item.reserve(order_id, ln.quantity)
            uow.stock.save(item)
            uow.reservations.add(reservation)
        order = Order.place(
            order_id,
            cmd.customer_id,
            [OrderLine(ln.sku, ln.quantity, products[ln.sku].price.amount) for ln in cmd.lines],
            self._currency,
            self._clock.now(),
        )
        uow.orders.add(order)
        return order


@dataclass(frozen=True)
class CancelOrderCommand:
    order_id: str
    actor: Actor
    expected_version: int | None = None
    reason: CancelReason | None = None


class CancelOrder:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, cmd: CancelOrderCommand) -> CancelResult:
        reason = cmd.reason or (
            CancelReason.ADMIN_REQUEST if cmd.actor.is_admin else CancelReason.CUSTOMER_REQUEST
        )

        require_plausible_order_id(cmd.order_id)

        def attempt() -> CancelResult:
            with self._uow() as uow:
                order = uow.orders.get(cmd.order_id)
                if order is None:
                    raise NotFound(f"order {cmd.order_id} not found")
                cmd.actor.require_owner(order.customer_id, f"order {cmd.order_id}")
                was_paid = order.status is OrderStatus.PAID
                if cmd.expected_version is not None and order.version != cmd.expected_version:
                    raise VersionMismatch(
                        f"order {order.id} is at version {order.version}, "
                        f"not {cmd.expected_version}"
                    )
                changed = order.cancel(reason, self._clock.now())
                if changed:
                    release_reservations(uow, order)
                    uow.orders.save(order)
                    uow.commit()
                return CancelResult(order_view(order), changed, refund_due=changed and was_paid)

        return with_retries(attempt)


@dataclass(frozen=True)
class ShipOrderCommand:
    order_id: str
    actor: Actor


class ShipOrder:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, cmd: ShipOrderCommand) -> Changed[OrderView]:
        cmd.actor.require_admin()
        require_plausible_order_id(cmd.order_id)

        def attempt() -> Changed[OrderView]:
            with self._uow() as uow:
                order = uow.orders.get(cmd.order_id)
                if order is None:
                    raise NotFound(f"order {cmd.order_id} not found")
                changed = order.ship(self._clock.now())
                if changed:
                    commit_reservations(uow, order)
                    uow.orders.save(order)
                    uow.commit()
                return Changed(order_view(order), changed)

        return with_retries(attempt)


class ExpirePendingOrders:
    """Cancel orders still unpaid after the timeout (reason `payment_timeout`)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, timeout_seconds: int) -> None:
        self._uow = uow
        self._clock = clock
        self._timeout = timedelta(seconds=timeout_seconds)

    def __call__(self, batch_size: int = 500) -> int:
        expired = 0
        while True:
            cutoff = self._clock.now() - self._timeout
            with self._uow() as uow:
                candidates = uow.orders.pending_before(cutoff, batch_size)
            if not candidates:
                return expired
            for order_id in candidates:
                if with_retries(partial(self._expire_one, order_id)):
                    expired += 1
            if len(candidates) < batch_size:
                return expired

    def _expire_one(self, order_id: str) -> bool:
        with self._uow() as uow:
            order = uow.orders.get(order_id)
            # Re-checked under the lock: it may have been paid or cancelled meanwhile.
            if order is None or order.status is not OrderStatus.PENDING_PAYMENT:
                return False
            order.cancel(CancelReason.PAYMENT_TIMEOUT, self._clock.now())
            release_reservations(uow, order)
            uow.orders.save(order)
            uow.commit()
            return True


class PurgeIdempotencyRecords:
    """Forget idempotency keys older than the retention (docs/api.md: kept at least 24 hours)."""

    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, retention_seconds: int = 24 * 3600
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._retention = timedelta(seconds=max(retention_seconds, 24 * 3600))

    def __call__(self) -> int:
        with self._uow() as uow:
            purged = uow.idempotency.purge_older_than(self._clock.now() - self._retention)
            uow.commit()
        return purged
