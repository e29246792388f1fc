"""Where webhook deliveries are sent from: a thread of `orderly serve` with
in-process messaging (on SQLite, of its delivery process), a thread of `orderly
worker` with RabbitMQ."""

from __future__ import annotations

import threading

from adapters.webhooks.metrics import track_webhooks
from adapters.webhooks.runner import WebhookRunner
from entrypoints.container import Container


def webhook_runner(container: Container, stop: threading.Event | None = None) -> WebhookRunner:
    """A sender woken whenever this process's fan-out stores new deliveries, and by
    its poll (retries coming due, deliveries made by other processes)."""
    runner = WebhookRunner(container.deliver_webhooks(), stop=stop)
    container.webhook_fanout().on_new_deliveries(runner.wake)
    track_webhook_metrics(container)
    return runner


def track_webhook_metrics(container: Container) -> None:
    """Pending deliveries, their oldest age and open circuits, read from the store on
    scrape (also by a serving process whose deliveries another process sends)."""
    track_webhooks(container.webhook_store().stats)


def sends_in_process(container: Container) -> bool:
    """With in-process messaging the serving process sends; with RabbitMQ, the worker."""
    return bool(container.config.delivery() != "rabbitmq")
