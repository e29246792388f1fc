"""SqlDatabase.is_local: whether the database answers on this machine (reads may then
run on the event loop, entrypoints/http/offload.py). Nothing connects here."""

from __future__ import annotations

import pytest

from adapters.sql.database import SqlDatabase

PG = "postgresql+psycopg://orderly@"
CASES = [
    ("sqlite:///orderly.db", True),
    (f"{PG}127.0.0.1:5432/shop", True),
    (f"{PG}127.0.0.2/shop", True),
    (f"{PG}localhost/shop", True),
    (f"{PG}[::1]:5432/shop", True),
    (f"{PG}/shop?host=/var/run/postgresql", True),
    (f"{PG}db.internal:5432/shop", False),
    (f"{PG}10.0.0.5/shop", False),
    (f"{PG}localhost.example.com/shop", False),
    (f"{PG}/shop?host=127.0.0.1,db.internal", False),
]


@pytest.mark.parametrize(("url", "local"), CASES, ids=[url for url, _ in CASES])
def test_a_database_on_a_loopback_address_or_a_socket_is_local(url: str, local: bool) -> None:
    database = SqlDatabase.from_url(url)
    try:
        assert database.is_local is local
    finally:
        database.dispose()
