"""The relay's side of the SQL outbox: claim unsent rows, deliver, then mark them sent.

A batch is claimed with a lease in one short transaction, delivered with no
transaction open (the broker or the handlers are never called inside one), then
marked sent in another; a failed delivery gives the lease back, and a crashed
relay's lease runs out (`ORDERLY_OUTBOX_LEASE_SECONDS`), after which its rows are
delivered again (at least once; handlers dedupe). On PostgreSQL the claim skips
rows another relay is claiming at that moment (`FOR UPDATE SKIP LOCKED`), so
concurrent relays take disjoint batches; on SQLite the write lock does that.

Sent rows are kept: they are the orders' event history (ReadQueries.order_events).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, update

from adapters.sql.database import SqlDatabase
from adapters.sql.lists import with_list
from adapters.sql.mapping import envelope_from_row
from adapters.sql.prepared import select_rows
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
_CLAIMABLE = _UNSENT.where(
    or_(
        outbox.c.claimed_until.is_(None),
        outbox.c.claimed_until < bindparam("now", type_=outbox.c.claimed_until.type),
    )
)
_CLAIM_LOCKED = _CLAIMABLE.with_for_update(skip_locked=True)
# The batch's positions: one array on PostgreSQL, whatever the batch's size (lists.py).
_SET_LEASE = with_list(
    lambda in_list: (
        update(outbox)
        .where(in_list(outbox.c.position, "positions"))
        .values(claimed_until=bindparam("until"))
    )
)
_MARK_SENT = with_list(
    lambda in_list: (
        update(outbox)
        .where(in_list(outbox.c.position, "positions"))
        .values(sent_at=bindparam("sent_at"), claimed_until=None)
    )
)
_RELEASE = with_list(
    lambda in_list: (
        update(outbox)
        .where(in_list(outbox.c.position, "positions"), outbox.c.sent_at.is_(None))
        .values(claimed_until=None)
    )
)


def _envelopes(rows: Sequence[Mapping[str, Any]]) -> list[EventEnvelope]:
    for row in rows:  # the trace each event continues (tracing on)
        otel.remember(row["event_id"], row["trace_context"])
    return [envelope_from_row(row) for row in rows]


class SqlOutbox:
    def __init__(self, database: SqlDatabase, clock: Clock, lease_seconds: float = 60.0) -> None:
        self._db = database
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)

    def relay_batch(self, limit: int, deliver: Deliver) -> int:
        now = self._clock.now()
        claim = _CLAIMABLE if self._db.is_sqlite else _CLAIM_LOCKED
        with self._db.write() as conn:
            rows = select_rows(conn, claim, {"limit": limit, "now": now})
            positions = [row["position"] for row in rows]
            if positions:
                lease = _SET_LEASE.of(conn.dialect)
                conn.execute(lease, {"positions": positions, "until": now + self._lease})
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
        mark = _MARK_SENT.of(conn.dialect)
        conn.execute(mark, {"positions": list(positions), "sent_at": self._clock.now()})

    def _release(self, positions: Sequence[int]) -> None:
        try:
            with self._db.write() as conn:
                conn.execute(_RELEASE.of(conn.dialect), {"positions": list(positions)})
        except Exception:
            # The lease runs out on its own; the delivery error is what matters here.
            logger.exception("could not release claimed outbox rows; their lease will expire")
