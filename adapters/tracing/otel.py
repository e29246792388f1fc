"""OpenTelemetry, configured by the standard variables, off and free when unset.

`OTEL_TRACES_EXPORTER` = `otlp` (OTLP over HTTP, `OTEL_EXPORTER_OTLP_ENDPOINT`, ...)
or `console`; unset or `none`: tracing is off, nothing of OpenTelemetry is even
imported, and every helper here returns at its first line. `OTEL_SERVICE_NAME`
defaults to `orderly`.

Propagation (one trace from the request to the handlers, across processes): the
unit of work stores the current W3C `traceparent` with each outbox row; the relay
reads it back (`remember`), publishes each event in a span that continues it and
puts that span's `traceparent` in the AMQP headers; the consumer reads the header
(`remember`) and each handler runs in a span that continues it (`handler_span`).
The events a handler causes are stored under the handler's span, and so on.
The core never sees any of this: it is keyed by event id.
"""

from __future__ import annotations

import copy
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from core.domain.events import EventEnvelope

T = TypeVar("T")
TRACEPARENT = "traceparent"
_state: dict[str, Any] = {"tracer": None}
_lock = threading.Lock()
_contexts: OrderedDict[str, str] = OrderedDict()  # event id -> traceparent
_MAX_CONTEXTS = 50_000


def enabled() -> bool:
    return _state["tracer"] is not None


def configure_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Set tracing up once per process from OTEL_*; returns whether it is on."""
    env = os.environ if environ is None else environ
    exporter_name = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if enabled() or exporter_name in ("", "none"):
        return enabled()
    exporter: Any
    if exporter_name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        exporter = ConsoleSpanExporter()
    elif exporter_name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    else:
        raise ValueError(f"OTEL_TRACES_EXPORTER={exporter_name!r}: use otlp, console or none")
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    install(BatchSpanProcessor(exporter), env.get("OTEL_SERVICE_NAME") or "orderly")
    return True


def install(processor: Any, service_name: str = "orderly") -> None:
    """Tracing on with this span processor (tests pass a SimpleSpanProcessor over an
    InMemorySpanExporter)."""
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    with _lock:
        if _state["tracer"] is not None:
            provider = _state["provider"]
            provider.add_span_processor(processor)
            return
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        _state["provider"] = provider
        _state["tracer"] = provider.get_tracer("orderly")


def uninstall() -> None:
    """Tracing off again (tests): the helpers return at once, as if never configured."""
    with _lock:
        provider = _state.pop("provider", None)
        _state["tracer"] = None
        _contexts.clear()
    if provider is not None:
        provider.shutdown()


def instrument_engine(engine: Any) -> None:
    """A span per SQL statement on this engine (once per engine)."""
    if not enabled() or getattr(engine, "_orderly_traced", False):
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    usage = get_meter("orderly").create_up_down_counter("db.client.connections.usage")
    EngineTracer(_state["tracer"], engine, usage, enable_commenter=False)  # type: ignore[no-untyped-call]
    engine._orderly_traced = True


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, or None (tracing off, or no span)."""
    if not enabled():
        return None
    return _headers().get(TRACEPARENT)


def current_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) in hex of the current span, for log lines."""
    if not enabled():
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def remember(event_id: str, traceparent: object) -> None:
    """The trace an event belongs to, read from its outbox row or its AMQP headers."""
    if not enabled():
        return
    if isinstance(traceparent, bytes):
        traceparent = traceparent.decode("ascii", "replace")
    if not isinstance(traceparent, str):
        return
    with _lock:
        _contexts[event_id] = traceparent
        _contexts.move_to_end(event_id)
        while len(_contexts) > _MAX_CONTEXTS:
            _contexts.popitem(last=False)


def recall(event_id: str) -> str | None:
    with _lock:
        return _contexts.get(event_id)


def _parent(event_id: str) -> Any:
    traceparent = recall(event_id)
    if traceparent is None:
        return None
    from opentelemetry.propagate import extract

    return extract({TRACEPARENT: traceparent})


def _headers() -> dict[str, str]:
    """The propagation headers of the current span (traceparent, ...)."""
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


def _event_span(name: str, event_id: str, kind: str, attributes: dict[str, str]) -> Any:
    """A span about an event, continuing the event's trace when this process knows it;
    `kind` names a SpanKind (CONSUMER, PRODUCER, CLIENT)."""
    from opentelemetry.trace import SpanKind

    return _state["tracer"].start_as_current_span(
        name, context=_parent(event_id), kind=SpanKind[kind], attributes=attributes
    )


def _attributes(envelope: EventEnvelope) -> dict[str, str]:
    return {
        "messaging.message.id": envelope.event_id,
        "orderly.event.type": envelope.type,
        "orderly.event.subject": envelope.subject,
        "orderly.correlation_id": envelope.correlation_id,
    }


@contextmanager
def handler_span(envelope: EventEnvelope, handler: str) -> Iterator[None]:
    """A consumer span for one handler run, continuing the event's trace."""
    attributes = {**_attributes(envelope), "orderly.handler": handler}
    with _event_span(
        f"handle {envelope.type} {handler}", envelope.event_id, "CONSUMER", attributes
    ):
        yield


@contextmanager
def client_span(event_id: str, name: str, url: str) -> Iterator[dict[str, str]]:
    """A client span for one outgoing call about an event (a webhook POST), continuing
    the event's trace when this process knows it; yields the headers that carry the
    span to the receiver (none when tracing is off)."""
    if not enabled():
        yield {}
        return
    with _event_span(name, event_id, "CLIENT", {"messaging.message.id": event_id, "url.full": url}):
        yield _headers()


def publish_headers(envelope: EventEnvelope, destination: str) -> dict[str, str]:
    """A producer span for publishing one event (continuing its stored trace), ended at
    once; returns the headers that carry it to the consumer."""
    if not enabled():
        return {}
    attributes = {**_attributes(envelope), "messaging.destination.name": destination}
    with _event_span(f"publish {envelope.type}", envelope.event_id, "PRODUCER", attributes):
        return _headers()


def traced(name: str, use_case: T) -> T:
    """A copy of `use_case` whose calls run in a span named `name`; `use_case` itself
    when tracing is off. The copy is still an instance of the use case's class
    (Litestar checks the type of what it injects)."""
    if not enabled():
        return use_case
    tracer = _state["tracer"]
    cls = type(use_case)
    call = cls.__call__

    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        with tracer.start_as_current_span(name):
            return call(self, *args, **kwargs)

    subclass = type(cls.__name__, (cls,), {"__call__": __call__, "__module__": cls.__module__})
    wrapped = copy.copy(use_case)
    wrapped.__class__ = subclass
    return wrapped


def litestar_plugins() -> list[Any]:
    """Litestar's OpenTelemetry plugin (a server span per request) when tracing is on."""
    if not enabled():
        return []
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    return [OpenTelemetryPlugin(OpenTelemetryConfig(tracer_provider=_state["provider"]))]
