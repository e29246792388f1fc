"""Principals: who may call, with which role, proven by a hashed API key."""

from __future__ import annotations

import enum
import hashlib
import re
from datetime import datetime

from core.domain.errors import FieldProblem, ValidationError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class Role(enum.StrEnum):
    ADMIN = "admin"
    CUSTOMER = "customer"


def hash_api_key(api_key: str) -> str:
    """Keys carry >= 256 random bits, so one SHA-256 is enough (no stretching needed)."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def validate_principal_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValidationError(
            f"invalid name {name!r}: 1-64 characters of letters, digits, '.', '_', '@', '-'",
            [FieldProblem("name", "must be 1-64 characters of letters, digits, . _ @ -")],
        )
    return name


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ValidationError(
            f"invalid role {value!r}: choose admin or customer",
            [FieldProblem("role", "must be admin or customer")],
        ) from None


class Principal:
    def __init__(
        self,
        id: str,
        name: str,
        role: Role,
        key_hash: str,
        created_at: datetime,
        revoked_at: datetime | None = None,
        version: int = 1,
    ) -> None:
        self.id = id
        self.name = validate_principal_name(name)
        self.role = role
        self.key_hash = key_hash
        self.created_at = created_at
        self.revoked_at = revoked_at
        self.version = version

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def revoke(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        self.revoked_at = now
        self.version += 1
        return True
