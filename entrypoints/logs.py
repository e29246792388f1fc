"""Structured JSON logs for every Orderly process (serve, worker, relay): one JSON object per line.

structlog renders our own lines; the standard library's (uvicorn, granian, the
log notifier) go through the same formatter, so the whole process speaks JSON
and every line of a request carries its request id from the context.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import structlog

from adapters.tracing import otel


def _add_pid(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    # Which process wrote the line: serve --workers N, several workers and relays.
    event.setdefault("pid", os.getpid())
    return event


def _add_correlation(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    # A request's id is the correlation id of the work it causes: one key for every process.
    request_id = event.get("request_id")
    if request_id is not None:
        event.setdefault("correlation_id", request_id)
    ids = otel.current_ids()  # None at once when tracing is off
    if ids is not None:
        event.setdefault("trace_id", ids[0])
        event.setdefault("span_id", ids[1])
    return event


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    _add_correlation,
    _add_pid,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Idempotent: replaces the root handler rather than adding another."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        # ExtraAdder: standard-library lines keep their `extra` fields as JSON keys.
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    quiet_libraries(level)


def quiet_libraries(level: str) -> None:
    """pika narrates each connection step at INFO and reports an unreachable broker in
    half a dozen ERROR lines with a traceback; Orderly writes its own line per attempt
    (broker URL, password masked, and the reason), so pika speaks only at DEBUG."""
    quiet = level.upper() != "DEBUG"
    logging.getLogger("pika").setLevel(logging.CRITICAL if quiet else logging.NOTSET)
