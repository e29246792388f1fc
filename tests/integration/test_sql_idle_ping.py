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


@pytest.mark.parametrize(
    ("ping_if_idle", "first_use_fails"),
    [
        (0.0, False),  # every connection counts as idle: pinged, found dead, replaced unseen
        (3600.0, True),  # just used: no ping, so the statement finds it dead
    ],
)
def test_a_dropped_connection_is_replaced_by_the_ping_only_when_it_sat_idle(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, ping_if_idle: float, first_use_fails: bool
) -> None:
    engine = engines.engine_for(postgres_url)
    try:
        first = backend_pid(engine)
        terminate(postgres_url, first)
        monkeypatch.setattr(engines, "PING_IF_IDLE_SECONDS", ping_if_idle)
        if first_use_fails:
            with pytest.raises(exc.OperationalError):
                backend_pid(engine)  # the pool discards the dead connection
        assert backend_pid(engine) != first
    finally:
        engine.dispose()
