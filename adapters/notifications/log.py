"""The default notifier: one structured log line per notification.

It logs through the standard library with the fields as `extra`, so the process's
log setup decides the format (`entrypoints.logs` renders them as JSON keys) and a
process that configured no logging (the CLI) prints nothing. The log line is the
record: the notifier keeps nothing, so its memory does not grow with the orders
(tests read what it sent by capturing the log records).
"""

from __future__ import annotations

import logging

from core.ports.notifications import Notification

logger = logging.getLogger("orderly.notifications")

MESSAGE = "customer_notified"


class LogNotifier:
    def send(self, notification: Notification) -> None:
        logger.info(
            MESSAGE,
            extra={
                "kind": notification.kind,
                "order_id": notification.order_id,
                "customer_id": notification.customer_id,
                "notification_event_id": notification.event_id,
                "detail": notification.detail,
            },
        )
