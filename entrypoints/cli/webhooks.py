"""`orderly webhooks`: subscriptions of outside endpoints to events, and their log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # `orderly --help` must not pay for the webhook rules' import
    from core.domain.webhooks import Delivery, Subscription
    from core.use_cases.webhooks import SubscriptionDetail, WebhookAdmin
from entrypoints.cli.output import format_time, print_items, print_secret
from entrypoints.cli.support import container, echo_json, refusals


def _admin() -> WebhookAdmin:
    admin: WebhookAdmin = container().webhook_admin()
    return admin


def _subscription_dict(
    subscription: Subscription, detail: SubscriptionDetail | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": subscription.id,
        "url": subscription.url,
        "events": list(subscription.events),
        "description": subscription.description,
        "active": subscription.active,
        "created_at": subscription.created_at.isoformat(),
        "updated_at": subscription.updated_at.isoformat(),
    }
    if detail is not None:
        data["circuit"] = detail.circuit.value
        data["deliveries"] = {status.value: n for status, n in detail.counts.items()}
    return data


def _delivery_dict(delivery: Delivery) -> dict[str, Any]:
    from core.domain.webhooks import DeliveryStatus

    pending = delivery.status is DeliveryStatus.PENDING
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "subject": delivery.subject,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at.isoformat() if pending else None,
        "last_attempt_at": (
            delivery.last_attempt_at.isoformat() if delivery.last_attempt_at else None
        ),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": delivery.created_at.isoformat(),
    }


@click.group()
def webhooks() -> None:
    """Subscribe HTTP endpoints to events and inspect what was delivered.

    Each delivery is a signed POST (see README, "Webhooks"); failures are retried with
    backoff, and a failed delivery waits for `orderly webhooks redeliver`.
    """


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--events",
    required=True,
    help="Comma-separated event types (OrderPlaced,OrderPaid,...) or * for all.",
)
@click.option("--description", default="", help="A note for operators.")
@click.option("--json", "as_json", is_flag=True, help="Print the webhook and secret as JSON.")
@refusals
def add(url: str, events: str, description: str, as_json: bool) -> None:
    """Subscribe URL to events and print its signing secret (shown this once only).

    \b
    Example:
      orderly webhooks add https://erp.example.com/hooks --events OrderPaid,OrderShipped
    """
    names = [name.strip() for name in events.split(",") if name.strip()]
    created = _admin().create(url, names, description)
    data = _subscription_dict(created.subscription) | {"secret": created.secret}
    summary = f"Created webhook {created.subscription.id} for {url}."
    print_secret(as_json, data, summary, "Signing secret", created.secret)


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@refusals
def list_(as_json: bool) -> None:
    """List webhooks, oldest first. Secrets are never shown."""
    admin = _admin()
    items: list[Subscription] = []
    cursor = None
    while True:
        page = admin.page(100, cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    print_items(
        as_json,
        items,
        _subscription_dict,
        "No webhooks yet. Add one with: orderly webhooks add URL --events '*'",
        ["ID", "URL", "Events", "Status"],
        lambda s: (s.id, s.url, ",".join(s.events), "active" if s.active else "disabled"),
    )


@webhooks.command("show")
@click.argument("webhook_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@refusals
def show(webhook_id: str, as_json: bool) -> None:
    """One webhook with its circuit and delivery counts."""
    detail = _admin().get(webhook_id)
    data = _subscription_dict(detail.subscription, detail)
    if as_json:
        echo_json(data)
        return
    for key in ("id", "url", "events", "description", "active", "circuit", "deliveries"):
        value = data[key]
        if isinstance(value, list):
            value = ",".join(value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in sorted(value.items()))
        click.echo(f"{key:12} {value}")


def _set_active(webhook_id: str, active: bool) -> None:
    subscription = _admin().set_active(webhook_id, active).value.subscription
    state = "enabled" if active else "disabled (pending deliveries wait)"
    click.echo(f"Webhook {subscription.id} {state}.")


@webhooks.command("enable")
@click.argument("webhook_id")
@refusals
def enable(webhook_id: str) -> None:
    """Deliver to this webhook again (its pending deliveries resume)."""
    _set_active(webhook_id, True)


@webhooks.command("disable")
@click.argument("webhook_id")
@refusals
def disable(webhook_id: str) -> None:
    """Stop delivering: no new deliveries, pending ones wait until enabled."""
    _set_active(webhook_id, False)


@webhooks.command("remove")
@click.argument("webhook_id")
@refusals
def remove(webhook_id: str) -> None:
    """Remove a webhook; its pending deliveries are dropped."""
    _admin().delete(webhook_id)
    click.echo(f"Removed webhook {webhook_id}.")


@webhooks.command("rotate-secret")
@click.argument("webhook_id")
@click.option("--json", "as_json", is_flag=True, help="Print {id, secret} as JSON.")
@refusals
def rotate_secret(webhook_id: str, as_json: bool) -> None:
    """A new signing secret (shown once); the old one also signs for 24 hours."""
    rotated = _admin().rotate_secret(webhook_id)
    if as_json:
        echo_json({"id": rotated.subscription.id, "secret": rotated.secret})
        return
    click.echo("New signing secret (the previous one keeps signing for 24 hours):")
    click.echo(rotated.secret)


@webhooks.command("deliveries")
@click.argument("webhook_id")
@click.option(
    "--status", type=click.Choice(["pending", "succeeded", "failed"]), help="Only this status."
)
@click.option("--limit", type=click.IntRange(1, 100), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@refusals
def deliveries(webhook_id: str, status: str | None, limit: int, as_json: bool) -> None:
    """The delivery log, newest first."""
    page = _admin().deliveries(webhook_id, status, limit)
    print_items(
        as_json,
        page.items,
        _delivery_dict,
        "No deliveries.",
        ["ID", "Event", "Subject", "Status", ">Attempts", ">HTTP", "Last try"],
        lambda d: (
            d.id,
            d.event_type,
            d.subject,
            d.status.value,
            d.attempts,
            d.last_status_code or "-",
            format_time(d.last_attempt_at) if d.last_attempt_at else "-",
        ),
    )


@webhooks.command("redeliver")
@click.argument("webhook_id")
@click.option("--delivery", "delivery_id", help="The delivery to send again now.")
@click.option("--failed", is_flag=True, help="Every failed delivery of this webhook.")
@refusals
def redeliver(webhook_id: str, delivery_id: str | None, failed: bool) -> None:
    """Send a delivery again now (--delivery D), or every failed one (--failed)."""
    if (delivery_id is None) == (not failed):
        raise click.UsageError("give exactly one of --delivery D or --failed")
    admin = _admin()
    if delivery_id is not None:
        admin.redeliver(webhook_id, delivery_id)
        click.echo(f"Delivery {delivery_id} is due now.")
        return
    count = admin.redeliver_failed(webhook_id)
    click.echo(f"{count} failed deliver{'y is' if count == 1 else 'ies are'} due now.")


def register(cli: click.Group) -> None:
    cli.add_command(webhooks)
