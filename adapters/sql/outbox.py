"""The relay's side of the SQL outbox: claim unsent rows, deliver, then mark them sent.

PostgreSQL: the batch is claimed with `SELECT ... FOR UPDATE SKIP LOCKED` and the
claiming transaction stays open while `deliver` runs, so concurrent relays take
disjoint batches; a relay that dies mid-batch loses its connection, its locks go
with it, and the rows are delivered again (at least once; handlers dedupe).

SQLite has no row locks, and a write transaction held across `deliver` would
block the handlers' own units of work. So the batch is claimed with a lease in a
short single-writer transaction, delivered with no transaction open, then marked
sent; a failed delivery gives the lease back, and a crashed relay's lease runs out.

Sent rows are kept: they are the orders' event history (ReadQueries.order_events).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlalchemy import Connection, RowMapping, bindparam, or_, select, update

from adapters.sql.database import SqlDatabase
from adapters.sql.errors import translated
from adapters.sql.mapping import envelope_from_row
from adapters.sql.tables import outbox
from adapters.tracing import otel
from core.domain.events import EventEnvelope
from core.ports.system import Clock

logger = logging.getLogger("orderly.outbox")

Deliver = Callable[[list[EventEnvelope]], None]

_UNSENT = (
    select(outbox)
    .where(outbox.c.sent_at.is_(None))
    .order_by(outbox.c.position)
    .limit(bindparam("limit"))
)
_CLAIM_LOCKED = _UNSENT.with_for_update(skip_locked=True)
_CLAIMABLE = _UNSENT.where(
    or_(
        outbox.c.claimed_until.is_(None),
        outbox.c.claimed_until < bindparam("now", type_=outbox.c.claimed_until.type),
    )
)
_IN_BATCH = outbox.c.position.in_(bindparam("positions", expanding=True))
_SET_LEASE = update(outbox).where(_IN_BATCH).values(claimed_until=bindparam("until"))
_MARK_SENT = (
    update(outbox).where(_IN_BATCH).values(sent_at=bindparam("sent_at"), claimed_until=None)
)
_RELEASE = update(outbox).where(_IN_BATCH, outbox.c.sent_at.is_(None)).values(claimed_until=None)


def _envelopes(rows: Sequence[RowMapping]) -> list[EventEnvelope]:
    for row in rows:  # the trace each event continues (tracing on)
        otel.remember(row["event_id"], row["trace_context"])
    return [envelope_from_row(row) for row in rows]


class SqlOutbox:
    def __init__(self, database: SqlDatabase, clock: Clock, lease_seconds: float = 60.0) -> None:
        self._db = database
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)

    def relay_batch(self, limit: int, deliver: Deliver) -> int:
        if self._db.is_sqlite:
            return self._relay_with_lease(limit, deliver)
        return self._relay_with_row_locks(limit, deliver)

    def _relay_with_row_locks(self, limit: int, deliver: Deliver) -> int:
        with translated(), self._db.engine.connect() as conn, conn.begin():
            rows = conn.execute(_CLAIM_LOCKED, {"limit": limit}).mappings().all()
            if not rows:
                return 0
            deliver(_envelopes(rows))
            self._mark_sent(conn, [row["position"] for row in rows])
        return len(rows)

    def _relay_with_lease(self, limit: int, deliver: Deliver) -> int:
        now = self._clock.now()
        with self._db.write() as conn:
            rows = conn.execute(_CLAIMABLE, {"limit": limit, "now": now}).mappings().all()
            positions = [row["position"] for row in rows]
            if positions:
                conn.execute(_SET_LEASE, {"positions": positions, "until": now + self._lease})
        if not rows:
            return 0
        try:
            deliver(_envelopes(rows))
        except BaseException:
            self._release(positions)
            raise
        with self._db.write() as conn:
            self._mark_sent(conn, positions)
        return len(rows)

    def _mark_sent(self, conn: Connection, positions: Sequence[int]) -> None:
        conn.execute(_MARK_SENT, {"positions": positions, "sent_at": self._clock.now()})

    def _release(self, positions: Sequence[int]) -> None:
        try:
            with self._db.write() as conn:
                conn.execute(_RELEASE, {"positions": positions})
        except Exception:
            # The lease runs out on its own; the delivery error is what matters here.
            logger.exception("could not release claimed outbox rows; their lease will expire")
