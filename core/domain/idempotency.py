"""Idempotency records: a placed order's response kept per (principal, key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.domain.errors import FieldProblem, ValidationError

KEY_MAX = 255


def validate_idempotency_key(key: str) -> str:
    if not 1 <= len(key) <= KEY_MAX or any(not 0x21 <= ord(ch) <= 0x7E for ch in key):
        raise ValidationError(
            f"an idempotency key must be 1-{KEY_MAX} visible ASCII characters",
            [FieldProblem("idempotency_key", f"must be 1-{KEY_MAX} visible ASCII characters")],
        )
    return key


@dataclass(frozen=True)
class IdempotencyRecord:
    principal_id: str
    key: str
    fingerprint: str
    order_id: str
    response: dict[str, Any]
    created_at: datetime
