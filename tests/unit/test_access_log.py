"""The access line written in one step is the line structlog's chain writes."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
import structlog

from entrypoints.logs import AccessLog, configure_logging

FIELDS = {"method": "GET", "path": "/v1/orders/x", "route": "/v1/orders/{order_id:str}",
          "status": 200, "duration_ms": 1.25}  # fmt: skip


@pytest.fixture
def restored() -> Iterator[None]:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved = structlog.get_config()
    try:
        yield
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        structlog.configure(**saved)
        structlog.contextvars.clear_contextvars()


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_access_line_has_structlogs_keys_order_and_values(restored: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream)
    structlog.contextvars.bind_contextvars(request_id="req-1", extra="kept")
    structlog.get_logger("orderly.http.access").info("request", **FIELDS)
    AccessLog("orderly.http.access").info("request", dict(FIELDS))
    chain, direct = _lines(stream)
    assert list(direct) == list(chain)  # the same keys in the same order
    chain.pop("timestamp"), direct.pop("timestamp")
    assert direct == chain
    assert direct["correlation_id"] == "req-1" and direct["extra"] == "kept"


def test_the_access_line_follows_the_configured_level(restored: None) -> None:
    stream = io.StringIO()
    configure_logging("WARNING", stream)
    AccessLog("orderly.http.access").info("request", dict(FIELDS))
    assert stream.getvalue() == ""


def test_logging_configured_elsewhere_goes_through_structlog(restored: None) -> None:
    configure_logging("INFO", io.StringIO())
    seen: list[dict[str, object]] = []

    def keep(_: object, __: str, event: MutableMapping[str, Any]) -> str:
        seen.append(dict(event))
        return ""

    structlog.configure(processors=[keep], logger_factory=structlog.ReturnLoggerFactory())
    AccessLog("orderly.http.access").info("request", dict(FIELDS))
    assert seen == [{**FIELDS, "event": "request"}]


def test_a_standard_library_line_keeps_its_keys_without_caller_or_thread_details(
    restored: None,
) -> None:
    """configure_logging turns off what the standard library collects per record for
    no key of ours (caller, thread and process names); the line is what it was."""
    from adapters.notifications.log import LogNotifier
    from core.ports.notifications import Notification

    stream = io.StringIO()
    configure_logging("INFO", stream)
    structlog.contextvars.bind_contextvars(request_id="req-2")
    LogNotifier().send(Notification("order_paid", "order-1", "cust-1", "event-1", "paid"))
    (line,) = _lines(stream)
    assert set(line) == {
        "request_id", "correlation_id", "kind", "order_id", "customer_id",
        "notification_event_id", "detail", "event", "pid", "level", "logger", "timestamp",
    }  # fmt: skip
    assert line["event"] == "customer_notified" and line["detail"] == "paid"
    assert logging.getLogger("x").makeRecord("x", 20, "f", 1, "m", (), None).threadName is None


@pytest.mark.parametrize(
    "ns",
    [1_764_648_000_000_000_000, 1_764_648_000_000_001_999, 1_764_648_059_999_999_999],
    ids=["whole second", "one microsecond", "end of a minute"],
)
def test_the_access_lines_timestamp_is_datetimes_isoformat(
    ns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """utc_stamp formats the date once a second; its text is datetime's own, with Z, and
    without a fraction when the microseconds are zero, as isoformat does."""
    import time
    from datetime import UTC, datetime

    from entrypoints.logs import _UtcStamp

    stamp = _UtcStamp()
    for at in (ns, ns + 1_000, ns + 1_000_000_000):  # the same second, then the next
        monkeypatch.setattr(time, "time_ns", lambda at=at: at)
        expected = datetime.fromtimestamp(at // 1000 / 1_000_000, UTC).isoformat()
        assert stamp() == expected.replace("+00:00", "Z")
