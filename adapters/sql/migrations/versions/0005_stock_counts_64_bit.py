"""Stock counts are 64-bit on PostgreSQL too (stock.on_hand, stock.reserved,
stock_reservations.quantity), like amounts and totals already were.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

SQLite's INTEGER already holds 64 bits: nothing changes there. The domain still
caps on_hand at 10^9 (core/domain/limits.py); the columns no longer overflow
before the rule does. Downgrading fails if a value no longer fits in 32 bits,
rather than truncate it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = [("stock", "on_hand"), ("stock", "reserved"), ("stock_reservations", "quantity")]


def _retype(type_: sa.types.TypeEngine[int]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=type_, existing_nullable=False)


def upgrade() -> None:
    _retype(sa.BigInteger())


def downgrade() -> None:
    _retype(sa.Integer())
