"""The context of one piece of work (one handler run on one event): every log line
written inside it carries the event's correlation id, event id and handler, and,
when tracing is on, it runs in a span that continues the event's trace.

Binding is a few contextvar operations: cheap enough to stay on for every event.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from adapters.tracing import otel
from core.domain.events import EventEnvelope


@contextmanager
def handling(envelope: EventEnvelope, handler: str | None = None) -> Iterator[None]:
    fields = {
        "correlation_id": envelope.correlation_id,
        "event_id": envelope.event_id,
        "event_type": envelope.type,
    }
    if handler is not None:
        fields["handler"] = handler
    tokens = structlog.contextvars.bind_contextvars(**fields)
    try:
        if handler is not None and otel.enabled():
            with otel.handler_span(envelope, handler):
                yield
        else:
            yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
