"""PostgreSQL pool: a connection that sat idle is pinged at checkout and replaced if the
server dropped it; a connection just checked in is used without a ping
(adapters/sql/engines.py `_ping_when_idle`)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, exc, text

from adapters.sql import engines

pytestmark = pytest.mark.postgres


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(url: str, pid: int) -> None:
    admin = engines.engine_for(url)  # an engine of its own: not a connection of the pool
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.commit()
    finally:
        admin.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced_unseen(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engines.engine_for(postgres_url)
    try:
        first = backend_pid(engine)
        terminate(postgres_url, first)
        monkeypatch.setattr(engines, "PING_IF_IDLE_SECONDS", 0.0)  # every connection is idle
        assert backend_pid(engine) != first  # pinged, found dead, replaced: no error
    finally:
        engine.dispose()


def test_a_connection_just_used_is_not_pinged(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engines.engine_for(postgres_url)
    try:
        first = backend_pid(engine)
        terminate(postgres_url, first)
        monkeypatch.setattr(engines, "PING_IF_IDLE_SECONDS", 3600.0)
        # No ping, so the dead connection is only found by the statement itself; the pool
        # then discards it, and the next checkout works.
        with pytest.raises(exc.OperationalError):
            backend_pid(engine)
        assert backend_pid(engine) != first
    finally:
        engine.dispose()
