"""Domain errors. Each entrypoint maps them to its own form (problem+json, exit code).

They speak the core's language: a `FieldProblem` names a command's field
(`idempotency_key`), and the status an error family gets is the entrypoint's
choice (entrypoints/http/problems.py, docs/api.md)."""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Base of every refusal the core makes. `code` is a stable snake_case name."""

    code = "domain_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


class ValidationError(DomainError):
    """Input breaks a domain rule."""

    code = "validation_error"

    def __init__(self, detail: str, errors: list[FieldProblem] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []


class NotFound(DomainError):
    code = "not_found"


class AlreadyExists(DomainError):
    code = "already_exists"


class Conflict(DomainError):
    """A state conflict that the caller can resolve."""

    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class StockBelowReserved(Conflict):
    code = "stock_below_reserved"


@dataclass(frozen=True)
class Shortage:
    sku: str
    requested: int
    available: int


class InsufficientStock(Conflict):
    code = "insufficient_stock"

    def __init__(self, shortages: list[Shortage]) -> None:
        skus = ", ".join(s.sku for s in shortages)
        super().__init__(f"not enough stock for: {skus}")
        self.shortages = shortages


class UnorderableProduct(ValidationError):
    """An order line names an unknown or inactive SKU."""

    code = "unorderable_product"


class VersionMismatch(DomainError):
    """The version the caller expected is not the current one."""

    code = "version_mismatch"


class IdempotencyKeyReused(ValidationError):
    code = "idempotency_key_reused"


class PermissionDenied(DomainError):
    code = "forbidden"


class AuthenticationFailed(DomainError):
    code = "unauthenticated"
