"""Webhooks for real: the httpx sender against a receiver on 127.0.0.1, and the
whole path (API, outbox, fan-out, sender thread) on SQLite with a receiver that
fails, times out, closes the connection and comes back."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

from adapters.webhooks.http_sender import HttpxWebhookSender, SocketResolver
from core.domain.webhook_signing import verify_signature
from core.ports.webhooks import WebhookRequest
from tests.e2e.http_support import assert_problem, running_api
from tests.integration.webhook_receiver import running_receiver

REQUEST = WebhookRequest("", b'{"id":"e1"}', {"Content-Type": "application/json"})


def _request(url: str) -> WebhookRequest:
    return WebhookRequest(url, REQUEST.body, REQUEST.headers)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll until `condition` holds; the bound only stops a hung test."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_sender_success_failure_timeout_close_redirect_and_huge_answers() -> None:
    sender = HttpxWebhookSender(timeout_seconds=0.5)
    with running_receiver() as receiver:
        url = receiver.url
        ok = sender.send(_request(url))
        assert ok.status_code == 200 and ok.error is None
        assert receiver.accepted[-1].body == REQUEST.body
        receiver.script = ["fail", "slow", "close", "redirect", "huge"]
        assert sender.send(_request(url)).status_code == 500
        slow = sender.send(_request(url))
        assert slow.status_code is None and slow.error is not None and "timed out" in slow.error
        closed = sender.send(_request(url))
        assert closed.status_code is None and closed.error
        redirect = sender.send(_request(url))
        assert redirect.status_code == 302 and "redirect" in (redirect.error or "")
        huge = sender.send(_request(url))  # only 64 KiB of 10 MiB are read
        assert huge.status_code == 200
        assert sender.send(_request(url)).status_code == 200  # the pool recovered
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = sender.send(_request(f"http://127.0.0.1:{port}/x"))
    assert refused.status_code is None and refused.error
    sender.close()


def test_resolver_resolves_names_and_literals() -> None:
    resolver = SocketResolver()
    assert "127.0.0.1" in resolver.resolve("localhost", 80)
    assert resolver.resolve("10.0.0.1", 80) == ["10.0.0.1"]
    assert resolver.resolve("no-such-host.invalid", 80) == []


def test_every_event_arrives_in_order_through_failures_and_the_breaker(tmp_path: Path) -> None:
    with (
        running_receiver() as receiver,
        running_api(
            "sqlite",
            tmp_path,
            webhooks_allow_private_networks=True,
            webhook_timeout_seconds=0.3,
            webhook_retry_base_seconds=0.02,
            webhook_max_attempts=100,
            webhook_breaker_failures=3,
            webhook_breaker_cooldown_seconds=0.3,
        ) as api,
    ):
        receiver.slow_seconds = 0.6
        created = api.client.post(
            "/v1/webhooks",
            json={"url": receiver.url, "events": ["ProductCreated", "StockAdjusted"]},
            headers=api.admin,
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        secret = hook["secret"]
        receiver.mode = "fail"
        skus = [f"SKU-{n}" for n in range(4)]
        for sku in skus:
            api.product(sku, on_hand=1)
        _wait(
            lambda: (
                api.client.get(f"/v1/webhooks/{hook['id']}", headers=api.admin).json()["circuit"]
                != "closed"
            ),
            "the circuit to open",
        )
        for sku in skus:  # more events while the receiver is down
            for delta in (1, 2):
                r = api.client.post(
                    f"/v1/stock/{sku}/adjustments",
                    json={"delta": delta, "reason": "recount"},
                    headers=api.admin,
                )
                assert r.status_code == 200, r.text
        receiver.script = ["slow", "close", "fail", "slow"]
        receiver.mode = "ok"

        def settled() -> bool:
            body = api.client.get(f"/v1/webhooks/{hook['id']}", headers=api.admin).json()
            return bool(body["deliveries"]["pending"] == 0 and body["circuit"] == "closed")

        _wait(settled, "every delivery to succeed")
        detail = api.client.get(f"/v1/webhooks/{hook['id']}", headers=api.admin).json()
        assert detail["deliveries"] == {"pending": 0, "succeeded": 16, "failed": 0}

        # At least once, in event order per subject, every signature valid.
        firsts: dict[str, list[str]] = {}
        for received in receiver.accepted:
            header = received.headers["Orderly-Signature"]
            now = int(header.split(",")[0][2:])
            assert verify_signature(secret, header, received.body, now)
            event = received.event
            assert received.headers["Orderly-Event-Id"] == event["id"]
            chain = firsts.setdefault(event["subject"], [])
            if event["id"] not in chain:
                chain.append(event["id"])
        for sku in skus:
            history = api.client.get(f"/v1/webhooks/{hook['id']}/deliveries?limit=100",
                                     headers=api.admin).json()["items"]  # fmt: skip
            expected = [d["event_id"] for d in reversed(history) if d["subject"] == sku]
            assert firsts[sku] == expected and len(expected) == 4  # created, stocked, 2 adjustments
        assert receiver.seen > len(receiver.accepted)  # failures really happened

        metrics = api.client.get("/metrics").text
        assert 'orderly_webhook_deliveries_total{outcome="succeeded"}' in metrics
        assert "orderly_webhook_pending_deliveries 0.0" in metrics
        assert "orderly_webhook_open_circuits 0.0" in metrics


def test_admin_api_validates_and_manages(tmp_path: Path) -> None:
    with running_api("memory", tmp_path) as api:
        bad = api.client.post(
            "/v1/webhooks", json={"url": "http://127.0.0.1/x", "events": ["*"]}, headers=api.admin
        )
        body = assert_problem(bad, 422, "validation_error")
        assert body["errors"][0]["field"] == "url"
        bad = api.client.post(
            "/v1/webhooks",
            json={"url": "https://93.184.216.34/x", "events": ["Bogus"]},
            headers=api.admin,
        )
        assert assert_problem(bad, 422, "validation_error")["errors"][0]["field"] == "events"
        missing = api.client.post("/v1/webhooks", json={"events": ["*"]}, headers=api.admin)
        assert missing.status_code == 422 and "url" in missing.text
        forbidden = api.client.post(
            "/v1/webhooks", json={"url": "https://93.184.216.34/x", "events": ["*"]},
            headers=api.alice,
        )  # fmt: skip
        assert forbidden.status_code == 403
        created = api.client.post(
            "/v1/webhooks",
            json={"url": "https://93.184.216.34/x", "events": ["*"], "description": "erp"},
            headers=api.admin,
        )
        assert created.status_code == 201
        hook = created.json()
        assert created.headers["location"] == f"/v1/webhooks/{hook['id']}"
        listed = api.client.get("/v1/webhooks", headers=api.admin).json()
        assert [h["id"] for h in listed["items"]] == [hook["id"]]
        assert "secret" not in listed["items"][0]
        patched = api.client.patch(
            f"/v1/webhooks/{hook['id']}", json={"active": False}, headers=api.admin
        )
        assert patched.status_code == 200 and patched.json()["active"] is False
        rotated = api.client.post(f"/v1/webhooks/{hook['id']}/rotate-secret", headers=api.admin)
        assert rotated.status_code == 200 and rotated.json()["secret"] != hook["secret"]
        log = api.client.get(
            f"/v1/webhooks/{hook['id']}/deliveries?status=bogus", headers=api.admin
        )
        assert log.status_code == 422
        missing_delivery = api.client.post(
            f"/v1/webhooks/{hook['id']}/deliveries/nope/redeliver", headers=api.admin
        )
        assert_problem(missing_delivery, 404, "not_found")
        assert api.client.delete(f"/v1/webhooks/{hook['id']}", headers=api.admin).status_code == 204
        gone = api.client.get(f"/v1/webhooks/{hook['id']}", headers=api.admin)
        assert_problem(gone, 404, "not_found")
