"""Webhooks through real processes on PostgreSQL and RabbitMQ, with the worker (which
runs the fan-out and the sender) SIGKILLed mid-stream: every event still reaches
the receiver at least once, with the same Orderly-Event-Id each time, signed, in
order per order, and nothing is left pending.

The order per order is the hard part: a fan-out message the killed worker held is
requeued behind later ones, so an order's OrderPaid can be fanned out before its
OrderPlaced; the fan-out then catches the earlier event up in the same write
(core/domain/webhooks.py, CatchUp)."""

from __future__ import annotations

import json
import signal
import time
from collections import defaultdict
from pathlib import Path

import pytest

from core.domain.webhook_signing import verify_signature
from tests.integration.messaging_support import Shop, await_consumers, deployment, wait_until
from tests.integration.webhook_receiver import running_receiver

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

EVENTS = ["OrderPlaced", "OrderPaid"]
ORDERS = 150


def test_webhooks_survive_a_worker_killed_mid_stream(
    tmp_path: Path, postgres_url: str, rabbitmq_url: str
) -> None:
    with (
        running_receiver() as receiver,
        deployment(
            tmp_path,
            postgres_url,
            rabbitmq_url,
            ORDERLY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS="true",
            ORDERLY_WEBHOOK_RETRY_BASE_SECONDS="0.2",
        ) as deploy,
    ):
        shop = Shop(deploy)
        created = shop.c.webhook_admin().create(receiver.url, EVENTS, "fault test")
        deploy.orderly("relay", "relay")
        worker = deploy.orderly("worker", "worker", "--threads", "2")
        await_consumers(deploy.broker_url)
        stream = shop.stream(ORDERS)
        wait_until(lambda: len(receiver.accepted) >= 30, "30 webhooks received")
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        received_when_killed = len(receiver.accepted)
        deploy.orderly("worker", "worker", "--threads", "2")
        stream.join()
        placed = set(shop.expected)
        paid = {order for order, status in shop.expected.items() if status == "paid"}

        def arrived() -> set[tuple[str, str]]:
            return {(r.event["type"], r.event["data"]["order_id"]) for r in receiver.accepted}

        def complete() -> bool:
            got = arrived()
            return {("OrderPlaced", o) for o in placed} <= got and {
                ("OrderPaid", o) for o in paid
            } <= got

        wait_until(complete, "every OrderPlaced and OrderPaid at the receiver", timeout=180)
        wait_until(lambda: shop.c.webhook_store().stats().pending == 0, "nothing pending")

    assert received_when_killed < len(receiver.accepted), "the restarted worker went on"
    first_seen: dict[str, dict[str, int]] = defaultdict(dict)
    ids_by_event: dict[tuple[str, str], set[str]] = defaultdict(set)
    now = int(time.time())
    for n, received in enumerate(receiver.accepted):
        headers = {k.lower(): v for k, v in received.headers.items()}
        event = json.loads(received.body)
        assert headers["orderly-event-id"] == event["id"]
        assert verify_signature(created.secret, headers["orderly-signature"], received.body, now)
        ids_by_event[(event["type"], event["data"]["order_id"])].add(event["id"])
        first_seen[event["data"]["order_id"]].setdefault(event["type"], n)
    # A repeat (at least once) carries the same event id as the first delivery.
    assert all(len(ids) == 1 for ids in ids_by_event.values())
    # Per order, its events arrive in event order.
    for order, seen in first_seen.items():
        if "OrderPaid" in seen:
            assert seen["OrderPlaced"] < seen["OrderPaid"], order
