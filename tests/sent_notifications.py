"""What the log notifier sent, read from its log records (the notifier keeps nothing)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from adapters.notifications.log import MESSAGE, logger
from core.ports.notifications import Notification


class SentNotifications(logging.Handler):
    """Collects every notification logged while `attached()`, from any thread."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self._lock_sent = threading.Lock()
        self._sent: list[Notification] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg != MESSAGE:
            return
        fields = record.__dict__
        notification = Notification(
            fields["kind"],
            fields["order_id"],
            fields["customer_id"],
            fields["notification_event_id"],
            fields["detail"],
        )
        with self._lock_sent:
            self._sent.append(notification)

    @property
    def sent(self) -> list[Notification]:
        with self._lock_sent:
            return list(self._sent)

    @contextmanager
    def attached(self) -> Iterator[SentNotifications]:
        """Listen on the notifier's logger, at INFO whatever the process configured."""
        level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(self)
        try:
            yield self
        finally:
            logger.removeHandler(self)
            logger.setLevel(level)
