"""The PostgreSQL channel relays LISTEN on, and the trigger that NOTIFYs it.

Every statement that inserts outbox rows notifies the channel through a statement-level
trigger, delivered when its transaction commits (and dropped on rollback; PostgreSQL
sends one notification per transaction and channel however many statements fired it).
A trigger rather than a `SELECT pg_notify(...)` sent by the unit of work: that was one
more round trip in every transaction that wrote an event, a placement's among them
(docs/performance.md, session 18), and now a writer cannot forget it.

The table's `after_create` (tables.py) and migration 0006 create the trigger. A module
of its own so that the unit of work, which every SQLite command loads too, names the
channel without importing psycopg (about 50 ms of a CLI command's start).
"""

from __future__ import annotations

CHANNEL = "orderly_outbox"

NOTIFY_FUNCTION = "orderly_outbox_notify"
NOTIFY_TRIGGER = "outbox_notify"

CREATE_NOTIFY_FUNCTION = f"""\
CREATE OR REPLACE FUNCTION {NOTIFY_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END
$$"""
CREATE_NOTIFY_TRIGGER = (
    f"CREATE TRIGGER {NOTIFY_TRIGGER} AFTER INSERT ON outbox "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {NOTIFY_FUNCTION}()"
)
