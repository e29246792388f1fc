"""PostgreSQL LISTEN/NOTIFY: a relay in another process than the committer wakes
as soon as outbox rows are committed, not at its next poll."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import insert, text

from adapters.messaging.relay import OutboxRelay
from adapters.sql.database import SqlDatabase
from adapters.sql.outbox_channel import CHANNEL
from adapters.sql.outbox_listener import OutboxListener, libpq_url
from adapters.sql.tables import create_schema, outbox
from adapters.system import FixedClock
from core.domain.events import EventEnvelope
from core.use_cases.catalog import CreateProductCommand
from tests.integration.sql_shop import migrated_container, sql_container

pytestmark = pytest.mark.postgres


def wait_for(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_a_commit_elsewhere_wakes_a_sleeping_relay(postgres_url: str, clock: FixedClock) -> None:
    with (
        sql_container(postgres_url, clock) as committer,
        sql_container(postgres_url, clock) as relay_side,
    ):
        delivered: list[EventEnvelope] = []
        # A relay that, once idle, would sleep an hour: only a wake-up can move it.
        relay = OutboxRelay(relay_side.outbox(), delivered.extend, min_idle=3600, max_idle=3600)
        thread = threading.Thread(target=relay.run, daemon=True)
        thread.start()
        listener = OutboxListener(postgres_url, relay.wake)
        try:
            time.sleep(0.3)  # the relay's first pass found nothing: it sleeps now
            create = committer.create_product()
            create(CreateProductCommand("EARLY-1", "Before listening", 100))
            time.sleep(1.0)
            assert delivered == []  # control: without a wake-up nothing moves

            listener.start()
            assert listener.listening.wait(10)
            # Connecting wakes the relay once, for what was committed meanwhile.
            assert wait_for(lambda: len(delivered) == 1, 10)

            create(CreateProductCommand("LATE-1", "While listening", 100))
            assert wait_for(lambda: len(delivered) == 2, 10), delivered
            assert [e.subject for e in delivered] == ["EARLY-1", "LATE-1"]
        finally:
            listener.stop()
            relay.stop()
            thread.join(5)


def _outbox_row(n: int) -> dict[str, object]:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    return {
        "event_id": f"evt-{n}",
        "type": "ProductCreated",
        "subject": f"SKU-{n}",
        "occurred_at": now,
        "correlation_id": "c",
        "schema_version": 1,
        "payload": {},
        "created_at": now,
    }


@pytest.mark.parametrize("schema", ["migrations", "tables"])
def test_any_statement_inserting_outbox_rows_notifies_at_commit_only(
    postgres_url: str, schema: str
) -> None:
    """The outbox table's trigger sends the wake-up, whoever inserts the rows (the
    unit of work sends no NOTIFY of its own); the schema built from tables.py has it
    as the migrated one does."""
    if schema == "migrations":
        database = migrated_container(postgres_url).database()
    else:
        database = SqlDatabase.from_url(postgres_url)
        create_schema(database.engine)
    listener = psycopg.connect(libpq_url(postgres_url), autocommit=True)
    try:
        listener.execute(f"LISTEN {CHANNEL}")

        def heard() -> int:
            return len(list(listener.notifies(timeout=0.5)))

        with pytest.raises(RuntimeError), database.write() as conn:
            conn.execute(insert(outbox).values(_outbox_row(1)))
            raise RuntimeError("rolled back")
        assert heard() == 0
        with database.write() as conn:  # two statements, one transaction: one wake-up
            conn.execute(insert(outbox).values(_outbox_row(2)))
            conn.execute(insert(outbox), [_outbox_row(3), _outbox_row(4)])
        assert heard() == 1
        with database.write() as conn:  # no outbox row inserted: no wake-up
            conn.execute(text("UPDATE outbox SET claimed_until = NULL"))
        assert heard() == 0
    finally:
        listener.close()
        database.dispose()
