"""Telling customers about their orders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Notification:
    kind: str  # "order_paid" | "order_cancelled" | "order_shipped"
    order_id: str
    customer_id: str
    event_id: str
    detail: str = ""


class Notifier(Protocol):
    def send(self, notification: Notification) -> None: ...
