"""The default notifier: one structured log line per notification."""

from __future__ import annotations

import threading

import structlog

from core.ports.notifications import Notification

logger = structlog.get_logger("orderly.notifications")


class LogNotifier:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        logger.info(
            "customer_notified",
            kind=notification.kind,
            order_id=notification.order_id,
            customer_id=notification.customer_id,
            notification_event_id=notification.event_id,
            detail=notification.detail,
        )
        with self._lock:
            self.sent.append(notification)
