"""The trace context of each outbox row (W3C traceparent), so that the relay, the
worker and the handlers continue the trace of the request that caused the event.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Nullable: rows written with tracing off (or before this migration) have none.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("trace_context", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("trace_context")
