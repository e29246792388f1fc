"""OpenTelemetry through the real adapters, collected by the SDK's in-memory exporter:
one trace from the HTTP request through the outbox (and the broker) to the handlers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters.messaging.relay import OutboxRelay
from adapters.sql import migrate
from adapters.tracing import otel
from entrypoints.container import build_container
from entrypoints.settings import Settings
from entrypoints.worker import Worker
from tests.e2e.http_support import running_api

DEADLINE = 30.0


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    otel.install(SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        otel.uninstall()


def _named(exporter: InMemorySpanExporter, prefix: str) -> list[Any]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith(prefix)]


def _wait_for(exporter: InMemorySpanExporter, prefix: str) -> list[Any]:
    deadline = time.monotonic() + DEADLINE
    while not (found := _named(exporter, prefix)):
        assert time.monotonic() < deadline, f"no span {prefix!r}"
        time.sleep(0.02)
    return found


def test_tracing_is_off_and_inert_without_otel_variables() -> None:
    assert not otel.configure_from_env({})
    assert not otel.configure_from_env({"OTEL_TRACES_EXPORTER": "none"})
    assert otel.current_traceparent() is None and otel.current_ids() is None
    assert otel.litestar_plugins() == []


def test_one_trace_from_the_request_to_the_handlers_in_process(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    with running_api("sqlite", tmp_path) as api:
        api.product("MUG-1", price=500)
        spans.clear()
        order = api.order(api.alice, ("MUG-1", 2))
        api.wait_status(order["id"], "paid")
        charge = _wait_for(spans, "handle OrderPlaced payments.charge")[0]
    (server,) = [
        s for s in spans.get_finished_spans() if s.kind.name == "SERVER" and "POST" in s.name
    ]
    trace_id = server.context.trace_id
    (use_case,) = _named(spans, "use_case place_order")
    assert use_case.context.trace_id == trace_id
    sql = [s for s in spans.get_finished_spans() if (s.attributes or {}).get("db.system")]
    assert any(s.context.trace_id == trace_id for s in sql), "no SQL span in the request's trace"
    assert charge.context.trace_id == trace_id
    assert charge.attributes["orderly.correlation_id"] == order_correlation(api, order["id"])
    # The follow-up event (OrderPaid) is handled in the same trace.
    paid = _wait_for(spans, "handle OrderPaid")
    assert all(s.context.trace_id == trace_id for s in paid)


def order_correlation(api: Any, order_id: str) -> str:
    r = api.client.get(f"/v1/orders/{order_id}/events", headers=api.admin)
    events = r.json()
    items = events["items"] if isinstance(events, dict) else events
    return str(items[0]["correlation_id"])


@pytest.mark.rabbitmq
def test_one_trace_across_the_outbox_the_relay_the_broker_and_the_worker(
    tmp_path: Path, rabbitmq_url: str, spans: InMemorySpanExporter
) -> None:
    container = build_container(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'orderly.db'}",
            messaging="rabbitmq",
            rabbitmq_url=rabbitmq_url,
        )
    )
    migrate.upgrade(container.database(), "head")
    from core.domain.orders import RequestedLine
    from core.use_cases.catalog import CreateProductCommand
    from core.use_cases.ordering import PlaceOrderCommand

    container.create_product()(CreateProductCommand("MUG-1", "Mug", 100, True, 5))
    tracer = otel._state["tracer"]
    with tracer.start_as_current_span("request") as request:
        placed = container.place_order()(PlaceOrderCommand("c1", [RequestedLine("MUG-1", 1)]))
    trace_id = request.get_span_context().trace_id
    otel._contexts.clear()  # the relay must read the trace from the outbox row
    publisher = container.rabbitmq_publisher()
    try:
        assert OutboxRelay(container.outbox(), publisher.publish).drain() >= 1
    finally:
        publisher.close()
    (publish,) = _named(spans, "publish OrderPlaced")
    assert publish.context.trace_id == trace_id
    otel._contexts.clear()  # the worker must read the trace from the AMQP headers
    worker = Worker(container, threads=1)
    threads = worker.threads()
    for thread in threads:
        thread.start()
    try:
        charge = _wait_for(spans, "handle OrderPlaced payments.charge")[0]
    finally:
        worker.stop()
        for thread in threads:
            thread.join(30)
    assert charge.context.trace_id == trace_id
    assert charge.parent is not None and charge.parent.span_id == publish.context.span_id
    view = container.queries().get_order(placed.order.id)
    assert view is not None
    assert threading.active_count() >= 1


def test_a_webhook_post_continues_the_events_trace(spans: InMemorySpanExporter) -> None:
    from adapters.webhooks.http_sender import HttpxWebhookSender
    from core.ports.webhooks import WebhookRequest
    from tests.integration.webhook_receiver import running_receiver

    tracer = otel._state["tracer"]
    with tracer.start_as_current_span("request") as request:
        otel.remember("event-1", otel.current_traceparent())
    sender = HttpxWebhookSender(timeout_seconds=5)
    try:
        with running_receiver() as receiver:
            body = b'{"id": "event-1"}'
            headers = {"Content-Type": "application/json", "Orderly-Event-Id": "event-1"}
            assert sender.send(WebhookRequest(receiver.url, body, headers)).status_code == 200
            received = receiver.accepted[-1].headers
    finally:
        sender.close()
    (client,) = _named(spans, "webhook POST")
    trace_id = request.get_span_context().trace_id
    assert client.kind.name == "CLIENT" and client.context.trace_id == trace_id
    traceparent = {k.lower(): v for k, v in received.items()}["traceparent"]
    assert traceparent.split("-")[1] == format(trace_id, "032x")
