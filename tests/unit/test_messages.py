"""Event envelopes as AMQP bodies: msgspec writes and reads them, the standard library
covers what msgspec refuses, and the result is the same envelope either way."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from adapters.messaging.rabbitmq import messages
from core.domain.events import EventEnvelope


def _envelope(payload: dict[str, object]) -> EventEnvelope:
    return EventEnvelope(
        event_id="e-1",
        type="OrderPlaced",
        subject="o-1",
        occurred_at=datetime(2026, 1, 1, 12, 30, tzinfo=UTC),
        correlation_id="c-1",
        schema_version=1,
        payload=payload,
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"order_id": "o-1", "total": 1250, "lines": [{"sku": "A", "quantity": 2}]},
        {"customer": "Zoë Ørsted 東京", "note": None, "flag": True},
        {"reason": "lone surrogate \ud800"},  # msgspec refuses it: json.dumps writes it
    ],
)
def test_an_encoded_envelope_decodes_to_itself(payload: dict[str, object]) -> None:
    envelope = _envelope(payload)
    body, properties = messages.encode(envelope)
    assert messages.decode(body) == envelope
    assert json.loads(body) == envelope.to_dict()  # plain JSON for any other consumer
    assert properties.message_id == "e-1" and properties.type == "OrderPlaced"


def test_a_body_only_the_standard_library_reads_still_decodes() -> None:
    data = _envelope({"ratio": 1.0}).to_dict()
    body = json.dumps(data).replace("1.0", "NaN").encode()  # NaN: not JSON, json.loads reads it
    decoded = messages.decode(body)
    ratio = decoded.payload["ratio"]
    assert isinstance(ratio, float) and ratio != ratio


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"event_id": "e"}', b"\xff\xfe"])
def test_a_body_that_is_no_envelope_is_unreadable(body: bytes) -> None:
    with pytest.raises(messages.UnreadableMessage):
        messages.decode(body)
