"""PostgreSQL: a statement-level trigger on outbox notifies the relays' channel.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Units of work used to send `SELECT pg_notify('orderly_outbox', '')` themselves after
writing outbox rows: one more round trip in every transaction that wrote an event.
The trigger sends the same notification, at commit, from any statement that inserts
outbox rows. SQLite has no LISTEN: nothing changes there. The SQL is written out here,
as it was at this revision (adapters/sql/outbox_channel.py holds the current one).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if not _postgresql():
        return
    op.execute(
        """\
CREATE OR REPLACE FUNCTION orderly_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('orderly_outbox', '');
    RETURN NULL;
END
$$"""
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION orderly_outbox_notify()"
    )


def downgrade() -> None:
    if not _postgresql():
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS orderly_outbox_notify()")
