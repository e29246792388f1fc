"""Small pieces every use case family shares: the actor, the command contract, retries,
cursors.

The command contract: a command returns the state it left (a view), wrapped in
`Changed` where repeating it can be a no-op, so that no caller reads again after a
command; every command that loads and saves retries a lost race through
`with_retries`, and nothing else."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from core.domain.errors import FieldProblem, NotFound, PermissionDenied, ValidationError
from core.domain.principals import Role
from core.domain.text import is_plausible_id
from core.ports.errors import ConcurrencyConflict

T = TypeVar("T")

MAX_PAGE = 100
DEFAULT_PAGE = 20


@dataclass(frozen=True)
class Actor:
    """Who is acting: a principal's id and role. The CLI acts as `Actor.operator()`."""

    principal_id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @staticmethod
    def operator() -> Actor:
        return Actor("operator", Role.ADMIN)

    def require_admin(self) -> None:
        if not self.is_admin:
            raise PermissionDenied("this operation needs the admin role")

    def require_owner(self, customer_id: str, what: str) -> None:
        """Customers see their own orders only; another's is reported as missing."""
        if not self.is_admin and customer_id != self.principal_id:
            raise NotFound(f"{what} not found")


def require_plausible_order_id(order_id: str) -> str:
    """An order id that no order can have (NUL, a surrogate, 65+ characters) is simply
    not found: it is refused here, before a driver that would choke on it sees it."""
    if not is_plausible_id(order_id):
        raise NotFound(f"order {order_id!r} not found")
    return order_id


@dataclass(frozen=True)
class Changed(Generic[T]):
    """A command's result where repeating the command can be a no-op: the state it left,
    and whether this call changed anything (cancelling a cancelled order does not)."""

    value: T
    changed: bool


def with_retries(
    operation: Callable[[], T],
    attempts: int = 8,
    retry_on: tuple[type[Exception], ...] = (ConcurrencyConflict,),
) -> T:
    """Run `operation`, again when a concurrent transaction won a race (`retry_on`); after
    `attempts` lost races, ConcurrencyConflict."""
    for attempt in range(attempts):
        try:
            return operation()
        except retry_on as exc:
            if attempt == attempts - 1:
                if isinstance(exc, ConcurrencyConflict):
                    raise
                raise ConcurrencyConflict(f"gave up after {attempts} lost races") from exc
    raise AssertionError("unreachable")


def validate_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError(
            f"limit must be an integer 1-{MAX_PAGE}",
            [FieldProblem("limit", f"must be an integer 1-{MAX_PAGE}")],
        )
    return limit


def encode_cursor(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: a forged cursor of deeply nested JSON.
        data = None
    if not isinstance(data, dict):
        raise ValidationError(
            "cursor is not one this service issued",
            [FieldProblem("cursor", "must be a next_cursor value from a previous page")],
        )
    return data
