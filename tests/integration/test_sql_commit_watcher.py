"""A relay apart from the committing process hears of its commits on SQLite
(adapters/sql/commit_watcher.py): PRAGMA data_version, read on a timer."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import text

from adapters.sql.commit_watcher import CommitWatcher
from adapters.sql.database import SqlDatabase


def test_a_commit_by_another_connection_wakes_and_quiet_does_not(tmp_path: Path) -> None:
    file = tmp_path / "orderly.db"
    database = SqlDatabase.from_url(f"sqlite:///{file}")
    with database.write() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    wakes: list[float] = []
    woken = threading.Event()

    def wake() -> None:
        wakes.append(time.monotonic())
        woken.set()

    watcher = CommitWatcher(database.engine, wake, interval=0.005).start()
    try:
        time.sleep(0.1)  # a few readings with nothing committed
        assert wakes == []
        other = sqlite3.connect(file)  # as another process would
        with other:
            other.execute("INSERT INTO t VALUES (1)")
        other.close()
        assert woken.wait(10)
        seen = len(wakes)
        time.sleep(0.1)
        assert len(wakes) == seen  # one commit, one wake
    finally:
        watcher.stop()
        database.dispose()
