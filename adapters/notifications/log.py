"""The default notifier: one structured log line per notification.

It logs through the standard library with the fields as `extra`, so the process's
log setup decides the format (`entrypoints.logs` renders them as JSON keys) and a
process that configured no logging (the CLI) prints nothing.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from core.ports.notifications import Notification

logger = logging.getLogger("orderly.notifications")

RECENT = 1000
"""How many of the latest notifications `sent` keeps: memory stays bounded however long
the process runs (the log line is the record; `sent` is a window for tests and demos)."""


class LogNotifier:
    def __init__(self, recent: int = RECENT) -> None:
        self._lock = threading.Lock()
        self.sent: deque[Notification] = deque(maxlen=recent)

    def send(self, notification: Notification) -> None:
        logger.info(
            "customer_notified",
            extra={
                "kind": notification.kind,
                "order_id": notification.order_id,
                "customer_id": notification.customer_id,
                "notification_event_id": notification.event_id,
                "detail": notification.detail,
            },
        )
        with self._lock:
            self.sent.append(notification)
