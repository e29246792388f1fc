"""Bearer authentication against the core's Authenticate use case, and role guards.

The key is hashed by the use case and looked up by its hash, so no stored value
is ever compared with a usable key; the header is never logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Scope

from core.domain.errors import AuthenticationFailed, PermissionDenied
from core.domain.principals import Role
from core.use_cases.support import Actor
from entrypoints.http.offload import Offload
from entrypoints.http.scope_headers import scope_header

Authenticator = Callable[[str], Actor]
# Requests of these methods only read (the API's POST, PUT, PATCH and DELETE all write).
_READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token(header: str | None) -> str:
    if not header:
        raise AuthenticationFailed("missing API key: send Authorization: Bearer <api key>")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed("the Authorization header must be 'Bearer <api key>'")
    return token


def token_of(scope: Scope) -> str | None:
    """The bearer token of a request, or None when it has no well-formed one."""
    header = scope_header(scope, b"authorization")
    if header is None:
        return None
    try:
        return bearer_token(header)
    except AuthenticationFailed:
        return None


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    def __init__(self, app: ASGIApp, authenticate: Authenticator, offload: Offload) -> None:
        super().__init__(app)
        self._authenticate = authenticate
        self._offload = offload

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        token = bearer_token(scope_header(connection.scope, b"authorization"))
        # Every request looks the key up again: a revoked key is refused at once.
        writes = connection.scope.get("method") not in _READ_ONLY_METHODS
        actor = await self._offload.read(lambda: self._authenticate(token), before_write=writes)
        return AuthenticationResult(user=actor, auth=None)


def actor_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    user = connection.scope.get("user")
    if not isinstance(user, Actor):
        raise AuthenticationFailed("not authenticated")
    return user


# Guards are coroutines: Litestar runs a plain-function guard in a worker thread (a hop
# per request for a check that takes a microsecond).
async def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    actor_of(connection).require_admin()


async def customer_only(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    if actor_of(connection).role is not Role.CUSTOMER:
        raise PermissionDenied("this operation needs the customer role")
