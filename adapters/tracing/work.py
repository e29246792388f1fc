"""The context of one piece of work (one handler run on one event): every log line
written inside it carries the event's correlation id, event id and handler, and,
when tracing is on, it runs in a span that continues the event's trace.

Binding is a few contextvar operations: cheap enough to stay on for every event.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

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


@contextmanager
def handling_batch(envelopes: Sequence[EventEnvelope], handler: str) -> Iterator[None]:
    """Several events handled in one unit of work: log lines name the handler and the
    batch's size (one correlation id would be wrong for most of them), and, when
    tracing is on, every event gets its handler span in its own trace, open for the
    time the batch takes."""
    tokens = structlog.contextvars.bind_contextvars(handler=handler, batch=len(envelopes))
    try:
        with ExitStack() as spans:
            if otel.enabled():
                for envelope in envelopes:
                    spans.enter_context(otel.handler_span(envelope, handler))
            yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)
