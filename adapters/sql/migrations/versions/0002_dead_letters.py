"""Dead letters of in-process delivery: deliveries that failed every attempt.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Types are spelled out here rather than imported from the application (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=64)


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("handler", sa.String(length=100), nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("subject", ID, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("correlation_id", ID, nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=False),
        sa.Column("dead_lettered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("handler", "event_id", name=op.f("pk_dead_letters")),
    )
    op.create_index("ix_dead_letters_dead_lettered_at", "dead_letters", ["dead_lettered_at"])


def downgrade() -> None:
    op.drop_table("dead_letters")
