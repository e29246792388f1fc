"""/v1/webhooks: subscriptions of outside endpoints to events, and their delivery log
(admins only). Also the lifespan that runs the sender inside `orderly serve` with
in-process messaging."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Literal

import anyio.to_thread
import msgspec
from litestar import Controller, Litestar, Response, delete, get, patch, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter, QueryParameter
from msgspec import Meta

from core.domain.webhooks import (
    MAX_DESCRIPTION_LENGTH,
    MAX_URL_LENGTH,
    Delivery,
    DeliveryStatus,
    Subscription,
)
from core.use_cases.webhooks import SubscriptionChanges, SubscriptionDetail, WebhookAdmin
from entrypoints.container import Container
from entrypoints.http.auth import admin_only
from entrypoints.http.controllers.params import Cursor, Limit
from entrypoints.http.openapi_docs import SECURITY, problems
from entrypoints.webhook_sender import sends_in_process, webhook_runner

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
IdPath = Annotated[str, PathParameter(min_length=1, max_length=64, description="An id")]
DeliveryStatusFilter = Annotated[
    Literal["pending", "succeeded", "failed"] | None,
    QueryParameter(description="Only deliveries with this status"),
]


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


class WebhookOut(msgspec.Struct, frozen=True):
    id: str
    url: str
    events: list[str]
    description: str
    active: bool
    circuit: Annotated[str, Meta(description="closed, open or half_open")]
    created_at: datetime
    updated_at: datetime
    deliveries: DeliveryCountsOut | None = None

    @staticmethod
    def of(subscription: Subscription, detail: SubscriptionDetail | None = None) -> WebhookOut:
        circuit = (
            detail.circuit.value
            if detail is not None
            else subscription.circuit.state(datetime.now(UTC)).value
        )
        counts = None
        if detail is not None:
            counts = DeliveryCountsOut(
                detail.counts[DeliveryStatus.PENDING],
                detail.counts[DeliveryStatus.SUCCEEDED],
                detail.counts[DeliveryStatus.FAILED],
            )
        return WebhookOut(
            subscription.id,
            subscription.url,
            list(subscription.events),
            subscription.description,
            subscription.active,
            circuit,
            subscription.created_at,
            subscription.updated_at,
            counts,
        )


class WebhookWithSecretOut(msgspec.Struct, frozen=True):
    """The subscription and its signing secret: shown this once only."""

    id: str
    url: str
    events: list[str]
    description: str
    active: bool
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
    status: Annotated[str, Meta(description="pending, succeeded or failed")]
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime

    @staticmethod
    def of(delivery: Delivery) -> DeliveryOut:
        pending = delivery.status is DeliveryStatus.PENDING
        return DeliveryOut(
            delivery.id,
            delivery.event_id,
            delivery.event_type,
            delivery.subject,
            delivery.status.value,
            delivery.attempts,
            delivery.next_attempt_at if pending else None,
            delivery.last_attempt_at,
            delivery.last_status_code,
            delivery.last_error,
            delivery.created_at,
        )


class DeliveryPage(msgspec.Struct, frozen=True):
    items: list[DeliveryOut]
    next_cursor: str | None


def _with_secret(subscription: Subscription, secret: str) -> WebhookWithSecretOut:
    return WebhookWithSecretOut(
        subscription.id,
        subscription.url,
        list(subscription.events),
        subscription.description,
        subscription.active,
        secret,
        subscription.created_at,
        subscription.updated_at,
    )


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]
    security = SECURITY
    guards = [admin_only]

    @post(
        "/",
        sync_to_thread=True,
        status_code=201,
        operation_id="createWebhook",
        summary="Subscribe an endpoint to events",
        responses=problems(403, 413),
        response_headers=[
            ResponseHeader(name="Location", documentation_only=True, description="The webhook")
        ],
    )
    def create(
        self, data: JSONBody[CreateWebhookIn], webhook_admin: NamedDependency[WebhookAdmin]
    ) -> Response[WebhookWithSecretOut]:
        """201 with the signing `secret` (shown this once). 422 names a bad field: an
        unknown event type, a URL that is not http(s) or resolves to a private target."""
        created = webhook_admin.create(data.url, data.events, data.description)
        body = _with_secret(created.subscription, created.secret)
        return Response(body, status_code=201, headers={"Location": f"/v1/webhooks/{body.id}"})

    @get(
        "/",
        sync_to_thread=True,
        operation_id="listWebhooks",
        summary="List webhooks",
        responses=problems(403),
    )
    def list_webhooks(
        self,
        webhook_admin: NamedDependency[WebhookAdmin],
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> WebhookPage:
        """Oldest first, paginated. Secrets are never shown."""
        page = webhook_admin.page(limit, cursor)
        return WebhookPage([WebhookOut.of(s) for s in page.items], page.next_cursor)

    @get(
        "/{webhook_id:str}",
        sync_to_thread=True,
        operation_id="getWebhook",
        summary="Get a webhook",
        responses=problems(403, 404),
    )
    def get_webhook(
        self, webhook_id: IdPath, webhook_admin: NamedDependency[WebhookAdmin]
    ) -> WebhookOut:
        """With its `circuit` (closed, open, half_open) and delivery counts by status."""
        detail = webhook_admin.get(webhook_id)
        return WebhookOut.of(detail.subscription, detail)

    @patch(
        "/{webhook_id:str}",
        sync_to_thread=True,
        operation_id="updateWebhook",
        summary="Change a webhook",
        responses=problems(403, 404, 413),
    )
    def update(
        self,
        webhook_id: IdPath,
        data: JSONBody[UpdateWebhookIn],
        webhook_admin: NamedDependency[WebhookAdmin],
    ) -> WebhookOut:
        """Change `url`, `events`, `description`, `active`. An inactive webhook gets no
        new deliveries and its pending ones wait until it is active again."""
        webhook_admin.update(
            webhook_id,
            SubscriptionChanges(data.url, data.events, data.description, data.active),
        )
        detail = webhook_admin.get(webhook_id)
        return WebhookOut.of(detail.subscription, detail)

    @delete(
        "/{webhook_id:str}",
        sync_to_thread=True,
        operation_id="deleteWebhook",
        summary="Remove a webhook",
        responses=problems(403, 404),
    )
    def remove(self, webhook_id: IdPath, webhook_admin: NamedDependency[WebhookAdmin]) -> None:
        """204; its pending deliveries are dropped and its log goes with it."""
        webhook_admin.delete(webhook_id)

    @post(
        "/{webhook_id:str}/rotate-secret",
        sync_to_thread=True,
        status_code=200,
        operation_id="rotateWebhookSecret",
        summary="Rotate a webhook's secret",
        responses=problems(403, 404),
    )
    def rotate_secret(
        self, webhook_id: IdPath, webhook_admin: NamedDependency[WebhookAdmin]
    ) -> WebhookWithSecretOut:
        """A new secret, shown once. For 24 hours deliveries carry two `v1=` signatures,
        one per secret, so the receiver can switch at its own pace."""
        rotated = webhook_admin.rotate_secret(webhook_id)
        return _with_secret(rotated.subscription, rotated.secret)

    @get(
        "/{webhook_id:str}/deliveries",
        sync_to_thread=True,
        operation_id="listWebhookDeliveries",
        summary="A webhook's delivery log",
        responses=problems(403, 404),
    )
    def deliveries(
        self,
        webhook_id: IdPath,
        webhook_admin: NamedDependency[WebhookAdmin],
        status: DeliveryStatusFilter = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> DeliveryPage:
        """Newest first; each entry's `id` is the `Orderly-Delivery-Id` header it was sent with."""
        page = webhook_admin.deliveries(webhook_id, status, limit, cursor)
        return DeliveryPage([DeliveryOut.of(d) for d in page.items], page.next_cursor)

    @post(
        "/{webhook_id:str}/deliveries/{delivery_id:str}/redeliver",
        sync_to_thread=True,
        status_code=202,
        operation_id="redeliverWebhook",
        summary="Redeliver one delivery now",
        responses=problems(403, 404),
    )
    def redeliver(
        self,
        webhook_id: IdPath,
        delivery_id: IdPath,
        webhook_admin: NamedDependency[WebhookAdmin],
    ) -> DeliveryOut:
        """202: a new attempt is due now (same event id and body, freshly signed)."""
        return DeliveryOut.of(webhook_admin.redeliver(webhook_id, delivery_id))


def webhook_controller(container: Container) -> type[WebhookController]:
    """The controller with its use case resolved from `container` on each request."""

    def resolve() -> WebhookAdmin:
        admin: WebhookAdmin = container.webhook_admin()
        return admin

    class Bound(WebhookController):
        dependencies = {"webhook_admin": Provide(resolve, sync_to_thread=False)}

    return Bound


def webhook_lifespan(
    container: Container, enabled: bool
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    """Runs the webhook sender in this process when messaging is in-process."""

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        runner = None
        if enabled and sends_in_process(container):
            runner = webhook_runner(container).start()
        try:
            yield
        finally:
            if runner is not None:
                await anyio.to_thread.run_sync(runner.stop)

    return lifespan
