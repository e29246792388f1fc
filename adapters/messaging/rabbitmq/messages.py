"""How an event envelope travels as an AMQP message.

The body is the envelope's JSON (the source of truth); the properties repeat the
event id, type, correlation id and schema version so that the broker, operators
and other consumers can route and inspect without parsing the body.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pika

from core.domain.events import EventEnvelope

CONTENT_TYPE = "application/json"
ATTEMPT = "x-orderly-attempt"  # 1-based number of the delivery attempt this copy is for
ORIGIN_QUEUE = "x-orderly-queue"  # the handler queue a dead letter came from
ERROR = "x-orderly-error"  # why it was dead-lettered
DEAD_AT = "x-orderly-dead-lettered-at"
SCHEMA_VERSION = "schema-version"
SUBJECT = "subject"


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder()


class UnreadableMessage(ValueError):
    """The body is not an event envelope this version understands: retrying cannot help."""


def _json(value: dict[str, Any]) -> bytes:
    """Compact JSON by msgspec (the standard library's encoder was a quarter of the relay's
    batch); a value msgspec refuses (a lone surrogate) is written by `json.dumps`."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError, msgspec.EncodeError):
        return json.dumps(value, separators=(",", ":")).encode()


def _parsed(body: bytes) -> Any:
    try:
        return _DECODER.decode(body)
    except msgspec.DecodeError:  # what only the standard library reads (NaN, ...), or junk
        return json.loads(body)


def encode(envelope: EventEnvelope) -> tuple[bytes, Any]:
    body = _json(envelope.to_dict())
    properties = pika.BasicProperties(
        content_type=CONTENT_TYPE,
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=envelope.event_id,
        correlation_id=envelope.correlation_id,
        type=envelope.type,
        timestamp=int(envelope.occurred_at.timestamp()),
        app_id="orderly",
        headers={SCHEMA_VERSION: envelope.schema_version, SUBJECT: envelope.subject},
    )
    return body, properties


def decode(body: bytes) -> EventEnvelope:
    try:
        data = _parsed(body)
        if not isinstance(data, dict):
            raise TypeError("body is not a JSON object")
        return EventEnvelope.from_dict(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise UnreadableMessage(f"not an event envelope: {exc}") from None


def headers(properties: Any) -> dict[str, Any]:
    return dict(properties.headers or {})


def attempt(properties: Any) -> int:
    value = headers(properties).get(ATTEMPT, 1)
    return value if isinstance(value, int) and value >= 1 else 1


def with_headers(properties: Any, changes: dict[str, Any]) -> Any:
    """A copy of `properties` with headers changed (None removes a header)."""
    merged = headers(properties)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return pika.BasicProperties(
        content_type=properties.content_type,
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=properties.message_id,
        correlation_id=properties.correlation_id,
        type=properties.type,
        timestamp=properties.timestamp,
        app_id=properties.app_id,
        headers=merged,
    )
