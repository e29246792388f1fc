"""Structured JSON logs for every Orderly process (serve, worker, relay): one JSON object per line.

Two paths write to the same stream, with the same keys:
- our structlog loggers render straight to the stream (no detour through the
  standard library's Logger, LogRecord and Formatter), which is what makes the
  access line every request writes cheap;
- standard-library loggers (uvicorn, the log notifier, messaging) go through
  `JsonFormatter`, which keeps `extra` fields as JSON keys.
Every line of a request carries its request id from the structlog context.
Both encode with msgspec; anything it cannot encode is written as its str().

The access line (one per request, INFO) has a third path, `AccessLog`: the same
keys in the same order as the structlog chain would give it, built in one step.
structlog's chain (a bound-logger call, a processor per key, the context merge)
was about 5 % of a GET's CPU in the app; the line is a default, so it is made
cheap rather than dropped.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec
import structlog

from adapters.tracing import otel

_ENCODER = msgspec.json.Encoder(enc_hook=str)


def _add_pid(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Which process wrote the line: serve --workers N, several workers and relays.
    event.setdefault("pid", os.getpid())
    return event


def _add_correlation(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # A request's id is the correlation id of the work it causes: one key for every process.
    request_id = event.get("request_id")
    if request_id is not None:
        event.setdefault("correlation_id", request_id)
    ids = otel.current_ids()  # None at once when tracing is off
    if ids is not None:
        event.setdefault("trace_id", ids[0])
        event.setdefault("span_id", ids[1])
    return event


def _render(_: Any, __: str, event: MutableMapping[str, Any]) -> str:
    return _ENCODER.encode(event).decode()


class _StreamLogger:
    """structlog's final logger: one line per call, written and flushed under a lock."""

    def __init__(self, stream: TextIO, lock: threading.Lock, name: str) -> None:
        self._stream = stream
        self._lock = lock
        self.name = name  # read by add_logger_name

    def msg(self, line: str) -> None:
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


class _StreamLoggerFactory:
    def __init__(self, stream: TextIO, level: int) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.level = level  # the configured threshold, for AccessLog

    def __call__(self, *args: Any) -> _StreamLogger:
        name = args[0] if args and isinstance(args[0], str) else "orderly"
        return _StreamLogger(self._stream, self._lock, name)


class _UtcStamp:
    """`datetime.now(UTC).isoformat()` with Z for +00:00, the same text, with the date and
    time of day formatted once a second: the access line's timestamp was a third of
    its cost (in place in a loaded app; formatting a datetime is slow)."""

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")  # replaced whole: threads share it

    def __call__(self) -> str:
        second, micros = divmod(time.time_ns() // 1000, 1_000_000)
        cached = self._second
        if cached[0] != second:
            cached = self._second = (second, datetime.fromtimestamp(second, UTC).isoformat()[:19])
        # isoformat leaves the fraction out when it is zero
        return f"{cached[1]}.{micros:06d}Z" if micros else f"{cached[1]}Z"


utc_stamp = _UtcStamp()


class AccessLog:
    """Writes a logger's INFO lines as structlog would (same keys, same order: the
    fields, `event`, the bound context, correlation and trace ids, `pid`, `level`,
    `logger`, `timestamp`), on the stream configured when it was made. A test checks
    the two lines match; see the module docstring for why it exists."""

    def __init__(self, name: str) -> None:
        self._name = name
        factory = structlog.get_config()["logger_factory"]
        self._logger: _StreamLogger | None = None
        self._fallback: Any = None
        if not isinstance(factory, _StreamLoggerFactory):
            # Logging configured some other way (or not at all): structlog decides.
            self._fallback = structlog.get_logger(name).bind()
        elif factory.level <= logging.INFO:
            self._logger = factory(name)

    def info(self, event: str, fields: dict[str, Any]) -> None:
        if self._fallback is not None:
            self._fallback.info(event, **fields)
            return
        logger = self._logger
        if logger is None:
            return
        fields["event"] = event
        for key, value in structlog.contextvars.get_contextvars().items():
            fields.setdefault(key, value)
        _add_correlation(None, "", fields)
        fields.setdefault("pid", os.getpid())
        fields["level"] = "info"
        fields["logger"] = self._name
        fields["timestamp"] = utc_stamp()
        logger.msg(_ENCODER.encode(fields).decode())


# Keys the standard library sets on every record; anything else came from `extra`.
_RECORD_KEYS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colour codes
}


class JsonFormatter(logging.Formatter):
    """A standard-library record as the same JSON line structlog writes."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = dict(structlog.contextvars.get_contextvars())
        for key, value in record.__dict__.items():
            if key not in _RECORD_KEYS:
                event[key] = value
        event["event"] = record.getMessage()
        event["pid"] = os.getpid()
        event["level"] = record.levelname.lower()
        event["logger"] = record.name
        event["timestamp"] = (
            datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z")
        )
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        _add_correlation(None, "", event)
        return _ENCODER.encode(event).decode()


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Idempotent: replaces the root handler rather than adding another."""
    target = stream or sys.stdout
    threshold = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_correlation,
            _add_pid,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _render,
        ],
        logger_factory=_StreamLoggerFactory(target, threshold),
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        # Not cached: tests (and `configure_logging` called again) may point logging elsewhere.
        cache_logger_on_first_use=False,
    )
    # Our lines carry no caller file and line, thread or process name (JsonFormatter
    # leaves them out): the standard library's own switches for that ("Optimization"
    # in its logging HOWTO) stop it collecting them for every record. The log notifier
    # writes a record per notification: it was about a sixth of the relay's CPU.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(target)
    handler.setFormatter(JsonFormatter())
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
