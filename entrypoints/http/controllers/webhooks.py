"""/v1/webhooks: subscriptions of outside endpoints to events, and their delivery log
(admins only). The sender runs in the app's lifespan (entrypoints/http/app.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Response
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody, QueryParameter
from msgspec import Meta

from core.domain.webhooks import (
    MAX_DESCRIPTION_LENGTH,
    MAX_URL_LENGTH,
    CircuitState,
    Delivery,
    DeliveryStatus,
    Subscription,
)
from core.use_cases.webhooks import SubscriptionChanges, SubscriptionDetail, WebhookAdmin
from entrypoints.container import Container
from entrypoints.http.auth import admin_only
from entrypoints.http.controllers.params import Cursor, IdPath, Limit
from entrypoints.http.handlers import delete, get, patch, post
from entrypoints.http.openapi_docs import operation

Url = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="http or https; private, loopback, link-local and multicast targets "
        "are refused unless ORDERLY_WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true",
        examples=["https://erp.example.com/hooks/orderly"],
    ),
]
EventTypes = Annotated[
    list[Annotated[str, Meta(max_length=50)]],
    Meta(
        min_length=1,
        max_length=20,
        description='Event types (OrderPlaced, OrderPaid, ...) or ["*"] for all',
        examples=[["OrderPaid", "OrderShipped"]],
    ),
]
Description = Annotated[str, Meta(max_length=MAX_DESCRIPTION_LENGTH)]
DeliveryStatusFilter = Annotated[
    DeliveryStatus | None, QueryParameter(description="Only deliveries with this status")
]
Admin = NamedDependency[WebhookAdmin]


class CreateWebhookIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    url: Url
    events: EventTypes
    description: Description = ""


class UpdateWebhookIn(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Only the fields present change."""

    url: Url | None = None
    events: EventTypes | None = None
    description: Description | None = None
    active: bool | None = None


class DeliveryCountsOut(msgspec.Struct, frozen=True):
    pending: int
    succeeded: int
    failed: int


class _Webhook(msgspec.Struct, frozen=True):
    id: str
    url: str
    events: list[str]
    description: str
    active: bool


class WebhookOut(_Webhook, frozen=True):
    circuit: CircuitState
    created_at: datetime
    updated_at: datetime
    deliveries: DeliveryCountsOut | None = None


class WebhookWithSecretOut(_Webhook, frozen=True):
    """The subscription and its signing secret: shown this once only."""

    secret: str
    created_at: datetime
    updated_at: datetime


class WebhookPage(msgspec.Struct, frozen=True):
    items: list[WebhookOut]
    next_cursor: str | None


class DeliveryOut(msgspec.Struct, frozen=True):
    id: str
    event_id: str
    event_type: str
    subject: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime


class DeliveryPage(msgspec.Struct, frozen=True):
    items: list[DeliveryOut]
    next_cursor: str | None


S = TypeVar("S", bound=msgspec.Struct)


def _out(cls: type[S], source: object, **given: Any) -> S:
    """`cls` with the fields not `given` read by name from the domain object."""
    read = {name: getattr(source, name) for name in cls.__struct_fields__ if name not in given}
    return cls(**read, **given)


def _webhook(subscription: Subscription, detail: SubscriptionDetail | None = None) -> WebhookOut:
    if detail is None:
        return _out(
            WebhookOut,
            subscription,
            circuit=subscription.circuit.state(datetime.now(UTC)),
            deliveries=None,
        )
    counts = DeliveryCountsOut(**{s.value: detail.counts.get(s, 0) for s in DeliveryStatus})
    return _out(WebhookOut, subscription, circuit=detail.circuit, deliveries=counts)


def _delivery(delivery: Delivery) -> DeliveryOut:
    pending = delivery.status is DeliveryStatus.PENDING
    return _out(
        DeliveryOut, delivery, next_attempt_at=delivery.next_attempt_at if pending else None
    )


def _route(
    method: Callable[..., HTTPRouteHandler],
    path: str,
    operation_id: str,
    summary: str,
    *statuses: int,
    **options: Any,
) -> HTTPRouteHandler:
    """What every operation here shares: a blocking use case run in a thread, admin-only
    (403), and its documented problems."""
    return operation(
        method, path, operation_id, summary, 403, *statuses, sync_to_thread=True, **options
    )


ONE = "/{webhook_id:str}"


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]
    guards = [admin_only]

    @_route(
        post,
        "/",
        "createWebhook",
        "Subscribe an endpoint to events",
        413,
        status_code=201,
        response_headers=[
            ResponseHeader(name="Location", documentation_only=True, description="The webhook")
        ],
    )
    def create(
        self, data: JSONBody[CreateWebhookIn], webhook_admin: Admin
    ) -> Response[WebhookWithSecretOut]:
        """201 with the signing `secret` (shown this once). 422 names a bad field: an
        unknown event type, a URL that is not http(s) or resolves to a private target."""
        created = webhook_admin.create(data.url, data.events, data.description)
        body = _out(WebhookWithSecretOut, created.subscription, secret=created.secret)
        return Response(body, status_code=201, headers={"Location": f"/v1/webhooks/{body.id}"})

    @_route(get, "/", "listWebhooks", "List webhooks")
    def list_webhooks(
        self, webhook_admin: Admin, limit: Limit = 20, cursor: Cursor = None
    ) -> WebhookPage:
        """Oldest first, paginated. Secrets are never shown."""
        page = webhook_admin.page(limit, cursor)
        return WebhookPage([_webhook(s) for s in page.items], page.next_cursor)

    @_route(get, ONE, "getWebhook", "Get a webhook", 404)
    def get_webhook(self, webhook_id: IdPath, webhook_admin: Admin) -> WebhookOut:
        """With its `circuit` (closed, open, half_open) and delivery counts by status."""
        detail = webhook_admin.get(webhook_id)
        return _webhook(detail.subscription, detail)

    @_route(patch, ONE, "updateWebhook", "Change a webhook", 404, 413)
    def update(
        self, webhook_id: IdPath, data: JSONBody[UpdateWebhookIn], webhook_admin: Admin
    ) -> WebhookOut:
        """Change `url`, `events`, `description`, `active`. An inactive webhook gets no
        new deliveries and its pending ones wait until it is active again."""
        changes = SubscriptionChanges(data.url, data.events, data.description, data.active)
        detail = webhook_admin.update(webhook_id, changes).value
        return _webhook(detail.subscription, detail)

    @_route(delete, ONE, "deleteWebhook", "Remove a webhook", 404)
    def remove(self, webhook_id: IdPath, webhook_admin: Admin) -> None:
        """204; its pending deliveries are dropped and its log goes with it."""
        webhook_admin.delete(webhook_id)

    @_route(
        post,
        f"{ONE}/rotate-secret",
        "rotateWebhookSecret",
        "Rotate a webhook's secret",
        404,
        status_code=200,
    )
    def rotate_secret(self, webhook_id: IdPath, webhook_admin: Admin) -> WebhookWithSecretOut:
        """A new secret, shown once. For 24 hours deliveries carry two `v1=` signatures,
        one per secret, so the receiver can switch at its own pace."""
        rotated = webhook_admin.rotate_secret(webhook_id)
        return _out(WebhookWithSecretOut, rotated.subscription, secret=rotated.secret)

    @_route(get, f"{ONE}/deliveries", "listWebhookDeliveries", "A webhook's delivery log", 404)
    def deliveries(
        self,
        webhook_id: IdPath,
        webhook_admin: Admin,
        status: DeliveryStatusFilter = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> DeliveryPage:
        """Newest first; each entry's `id` is the `Orderly-Delivery-Id` header it was sent with."""
        page = webhook_admin.deliveries(webhook_id, status, limit, cursor)
        return DeliveryPage([_delivery(d) for d in page.items], page.next_cursor)

    @_route(
        post,
        f"{ONE}/deliveries/{{delivery_id:str}}/redeliver",
        "redeliverWebhook",
        "Redeliver one delivery now",
        404,
        status_code=202,
    )
    def redeliver(
        self, webhook_id: IdPath, delivery_id: IdPath, webhook_admin: Admin
    ) -> DeliveryOut:
        """202: a new attempt is due now (same event id and body, freshly signed)."""
        return _delivery(webhook_admin.redeliver(webhook_id, delivery_id))


def webhook_controller(container: Container) -> type[WebhookController]:
    """The controller with its use case resolved from `container` on each request."""

    def resolve() -> WebhookAdmin:
        admin: WebhookAdmin = container.webhook_admin()
        return admin

    class Bound(WebhookController):
        dependencies = {"webhook_admin": Provide(resolve, sync_to_thread=False)}

    return Bound
