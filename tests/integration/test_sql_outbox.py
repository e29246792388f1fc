"""How each database keeps a relay that died mid-batch from losing or stranding events.

SQLite: the batch was claimed with a lease; once it runs out, the rows are
delivered again. PostgreSQL: the batch was claimed with row locks, which die with
the relay's connection; meanwhile other relays skip the locked rows.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from adapters.sql.tables import outbox
from adapters.system import FixedClock
from core.domain.events import EventEnvelope
from tests.integration.sql_shop import sql_container, stock_shop


def test_sqlite_rows_of_a_relay_that_died_come_back_when_the_lease_runs_out(
    tmp_path: Path, clock: FixedClock
) -> None:
    with sql_container(f"sqlite:///{tmp_path / 'x.db'}", clock) as container:
        stock_shop(container, 5)  # four events
        with container.database().write() as conn:
            # What a relay that claimed everything and then died leaves behind.
            conn.execute(update(outbox).values(claimed_until=clock.now() + timedelta(minutes=1)))
        relay = container.outbox()
        batches: list[list[EventEnvelope]] = []
        assert relay.relay_batch(10, batches.append) == 0
        clock.advance(61)
        assert relay.relay_batch(10, batches.append) == 4
        assert [e.type for e in batches[0]] == [
            "ProductCreated",
            "StockAdjusted",
            "ProductCreated",
            "StockAdjusted",
        ]
        with container.database().read() as conn:
            rows = conn.execute(select(outbox.c.sent_at, outbox.c.claimed_until)).all()
        assert all(sent is not None and claimed is None for sent, claimed in rows)


@pytest.mark.postgres
def test_postgresql_relays_skip_locked_rows_which_return_when_their_holder_dies(
    postgres_url: str, clock: FixedClock
) -> None:
    with sql_container(postgres_url, clock) as container:
        stock_shop(container, 5)
        relay = container.outbox()
        engine = container.database().engine
        in_flight = engine.connect()
        # Another relay holds the two oldest rows (locked, not yet marked sent).
        in_flight.begin()
        holder = in_flight.execute(text("SELECT pg_backend_pid()")).scalar_one()
        held = (
            in_flight.execute(
                select(outbox.c.event_id).order_by(outbox.c.position).limit(2).with_for_update()
            )
            .scalars()
            .all()
        )
        batches: list[list[EventEnvelope]] = []
        assert relay.relay_batch(10, batches.append) == 2
        assert not {e.event_id for e in batches[0]} & set(held)
        assert relay.relay_batch(10, batches.append) == 0
        # The other relay's process dies: its locks go with it. The server ends
        # the backend and waits for it to exit, so the locks are surely gone
        # (a client-side close would leave that to a race with the next query).
        with engine.connect() as admin:
            assert admin.execute(
                text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": holder}
            ).scalar_one()
        in_flight.invalidate()
        assert relay.relay_batch(10, batches.append) == 2
        assert [e.event_id for e in batches[1]] == held
        assert container.queries().outbox_status().backlog == 0
