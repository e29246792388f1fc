"""/health/live and /health/ready (no authentication)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec

from core.ports.errors import DependencyUnavailable
from entrypoints.container import Container
from entrypoints.http.problems import problem_response
from entrypoints.http.schemas import HealthOut, Problem

log = structlog.get_logger("orderly.http.health")


def dependency_checks(container: Container) -> dict[str, Callable[[], None]]:
    """What readiness needs: the database always; the broker when events go through it."""
    checks: dict[str, Callable[[], None]] = {"database": lambda: container.health_check().ping()}
    if container.config.delivery() == "rabbitmq" and hasattr(container, "broker_health"):

        def broker() -> None:
            # The provider gives a callable check, or runs the check when called.
            check = container.broker_health()
            if callable(check):
                check()

        checks["broker"] = broker
    return checks


def _run(check: Callable[[], None]) -> str | None:
    """None when healthy, otherwise why not (for the log, not the response)."""
    try:
        check()
    except DependencyUnavailable as exc:
        return exc.detail
    except Exception as exc:  # a check that cannot even run means "down", not a 500
        return f"{type(exc).__name__}: {exc}"
    return None


def health_handlers(container: Container) -> list[HTTPRouteHandler]:
    @get(
        "/health/live",
        tags=["operations"],
        operation_id="live",
        summary="Liveness: the process answers",
    )
    async def live() -> HealthOut:
        return HealthOut(status="ok", checks={})

    @get(
        "/health/ready",
        tags=["operations"],
        sync_to_thread=True,
        operation_id="ready",
        summary="Readiness: 503 naming the dependency that is down",
        responses={
            503: ResponseSpec(
                Problem,
                description="A dependency is down; `dependency` names it",
                media_type="application/problem+json",
                generate_examples=False,
            )
        },
    )
    def ready(request: Request[Any, Any, Any]) -> Response[HealthOut]:
        results = {name: _run(check) for name, check in dependency_checks(container).items()}
        down = [name for name, why in results.items() if why is not None]
        if not down:
            return Response(HealthOut(status="ok", checks=dict.fromkeys(results, "ok")))
        for name in down:
            log.warning("dependency_down", dependency=name, detail=results[name])
        return problem_response(  # type: ignore[return-value]  # the documented 503
            request,
            503,
            "dependency_unavailable",
            f"not ready: {', '.join(down)} unavailable",
            dependency=down[0],
            headers={"Retry-After": "5"},
        )

    return [live, ready]
