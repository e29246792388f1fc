"""Domain events and the envelope they travel in.

Aggregates record events as they change; the unit of work stamps each with an
id and the correlation id and writes the envelope to the outbox in the same
transaction. Payloads hold JSON-native values only so that every adapter can
store and ship them unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from core.domain.errors import DomainError

SCHEMA_VERSION = 1
"""The payload version this code writes, and the newest it can read."""

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""(event type, version v) -> a function turning a version-v payload into a version v+1 one.

Empty while every event is at its first version. When a payload changes shape, bump
SCHEMA_VERSION and register the step from the old version here: a consumer then reads
every version ever written (docs/domain.md, Events).
"""


class UnsupportedEventVersion(DomainError):
    """An event written by a newer producer than this consumer: it is refused (and, after
    the delivery attempts, dead-lettered) rather than misread; replay it after upgrading."""

    code = "unsupported_event_version"


@dataclass(frozen=True)
class DomainEvent:
    """Base of every event. `subject` is the order id or SKU it concerns."""

    occurred_at: datetime
    type_name: ClassVar[str] = "DomainEvent"

    @property
    def subject(self) -> str:
        raise NotImplementedError

    def payload(self) -> dict[str, Any]:
        # Shallow on purpose: asdict() deep-copies, and was a quarter of a bulk
        # import's time. Events are frozen and their lists are never mutated.
        # A copy of the instance's __dict__, which holds exactly its fields in field
        # order (the generated __init__ sets each, and a frozen event gets nothing
        # else): one step in C, where a lookup per field cost an import 4 % of its
        # instructions. tests/unit/test_events.py checks it for every event type.
        values = self.__dict__.copy()
        del values["occurred_at"]
        return values


@dataclass(frozen=True)
class OrderPlaced(DomainEvent):
    order_id: str
    customer_id: str
    total: int
    currency: str
    lines: list[dict[str, Any]] = field(default_factory=list)
    type_name: ClassVar[str] = "OrderPlaced"

    @property
    def subject(self) -> str:
        return self.order_id


@dataclass(frozen=True)
class OrderPaid(DomainEvent):
    order_id: str
    customer_id: str
    amount: int
    currency: str
    type_name: ClassVar[str] = "OrderPaid"

    @property
    def subject(self) -> str:
        return self.order_id


@dataclass(frozen=True)
class OrderCancelled(DomainEvent):
    order_id: str
    customer_id: str
    reason: str
    was_paid: bool
    type_name: ClassVar[str] = "OrderCancelled"

    @property
    def subject(self) -> str:
        return self.order_id


@dataclass(frozen=True)
class OrderShipped(DomainEvent):
    order_id: str
    customer_id: str
    type_name: ClassVar[str] = "OrderShipped"

    @property
    def subject(self) -> str:
        return self.order_id


@dataclass(frozen=True)
class StockAdjusted(DomainEvent):
    sku: str
    on_hand: int
    reserved: int
    delta: int
    reason: str
    type_name: ClassVar[str] = "StockAdjusted"

    @property
    def subject(self) -> str:
        return self.sku


@dataclass(frozen=True)
class ProductCreated(DomainEvent):
    sku: str
    name: str
    price: int
    currency: str
    active: bool
    type_name: ClassVar[str] = "ProductCreated"

    @property
    def subject(self) -> str:
        return self.sku


@dataclass(frozen=True)
class ProductUpdated(DomainEvent):
    sku: str
    changes: dict[str, Any] = field(default_factory=dict)
    type_name: ClassVar[str] = "ProductUpdated"

    @property
    def subject(self) -> str:
        return self.sku


EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.type_name: cls
    for cls in (
        OrderPlaced,
        OrderPaid,
        OrderCancelled,
        OrderShipped,
        StockAdjusted,
        ProductCreated,
        ProductUpdated,
    )
}


_FIELDS: dict[type[DomainEvent], frozenset[str]] = {}


def _field_names(cls: type[DomainEvent]) -> frozenset[str]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(
            f.name for f in dataclasses.fields(cls) if f.name != "occurred_at"
        )
    return names


@dataclass(frozen=True)
class EventEnvelope:
    """An event as stored in the outbox and delivered to handlers."""

    event_id: str
    type: str
    subject: str
    occurred_at: datetime
    correlation_id: str
    schema_version: int
    payload: dict[str, Any]

    @staticmethod
    def wrap(event: DomainEvent, event_id: str, correlation_id: str) -> EventEnvelope:
        # The fields go into the new envelope's __dict__ in one step, in field order,
        # which is what the generated __init__ leaves there: a frozen dataclass's
        # __init__ sets each field through object.__setattr__, half the cost of a wrap,
        # and an import's commit wraps 2,000 events. EventEnvelope has no defaults and
        # no __post_init__ to skip; tests/unit/test_events.py checks that a wrapped
        # envelope equals the constructor's, attribute for attribute.
        envelope = object.__new__(EventEnvelope)
        vars(envelope).update(
            event_id=event_id,
            type=event.type_name,
            subject=event.subject,
            occurred_at=event.occurred_at,
            correlation_id=correlation_id,
            schema_version=SCHEMA_VERSION,
            payload=event.payload(),
        )
        return envelope

    def to_event(
        self,
        upcasters: dict[tuple[str, int], Upcaster] | None = None,
        current: int = SCHEMA_VERSION,
    ) -> DomainEvent:
        """The event, from a payload of any version up to `current` (SCHEMA_VERSION).

        Older payloads are upcast step by step (`upcasters`, default UPCASTERS); fields this
        code does not know (a newer producer's additions) are ignored; a version newer than
        `current` is refused.
        """
        cls = EVENT_TYPES.get(self.type)
        if cls is None:
            raise UnsupportedEventVersion(f"unknown event type {self.type!r}")
        version = self.schema_version
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise UnsupportedEventVersion(f"{self.type} has no schema version {version!r}")
        if version > current:
            raise UnsupportedEventVersion(
                f"{self.type} {self.event_id} is schema version {version}; this consumer reads "
                f"up to {current}"
            )
        steps = UPCASTERS if upcasters is None else upcasters
        payload = dict(self.payload)
        while version < current:
            step = steps.get((self.type, version))
            if step is not None:
                payload = step(payload)
            version += 1
        known = _field_names(cls)
        return cls(occurred_at=self.occurred_at, **{k: v for k, v in payload.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "subject": self.subject,
            "occurred_at": self.occurred_at.isoformat(),
            "correlation_id": self.correlation_id,
            "schema_version": self.schema_version,
            "payload": self.payload,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> EventEnvelope:
        return EventEnvelope(
            event_id=str(data["event_id"]),
            type=str(data["type"]),
            subject=str(data["subject"]),
            occurred_at=datetime.fromisoformat(str(data["occurred_at"])),
            correlation_id=str(data["correlation_id"]),
            schema_version=int(data["schema_version"]),
            payload=dict(data["payload"]),
        )


class EventRecorder:
    """Mixin for aggregates: records events until the unit of work pulls them."""

    def __init__(self) -> None:
        self._events: list[DomainEvent] = []

    def record(self, event: DomainEvent) -> None:
        self._events.append(event)

    def pull_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events
