"""The PostgreSQL channel that committing units of work NOTIFY and relays LISTEN on.

A module of its own so that the unit of work, which every SQLite command loads too,
names the channel without importing psycopg (about 50 ms of a CLI command's start).
"""

from __future__ import annotations

CHANNEL = "orderly_outbox"
