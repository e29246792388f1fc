"""Principals: create (the key is shown once), revoke, authenticate a key."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.errors import AlreadyExists, AuthenticationFailed, NotFound
from core.domain.principals import (
    Principal,
    Role,
    hash_api_key,
    parse_role,
    validate_principal_name,
)
from core.ports.errors import ConcurrencyConflict
from core.ports.queries import PrincipalReader, PrincipalView
from core.ports.system import Clock, IdGenerator
from core.ports.unit_of_work import UnitOfWorkFactory
from core.use_cases.support import Actor


@dataclass(frozen=True)
class CreatedPrincipal:
    id: str
    name: str
    role: Role
    api_key: str


class CreatePrincipal:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids

    def __call__(self, name: str, role: str) -> CreatedPrincipal:
        validate_principal_name(name)
        parsed = parse_role(role)
        api_key = self._ids.new_secret()
        principal = Principal(
            id=self._ids.new_id(),
            name=name,
            role=parsed,
            key_hash=hash_api_key(api_key),
            created_at=self._clock.now(),
        )
        try:
            with self._uow() as uow:
                if uow.principals.get_by_name(name) is not None:
                    raise AlreadyExists(f"a principal named {name} already exists")
                uow.principals.add(principal)
                uow.commit()
        except ConcurrencyConflict:
            # A concurrent create of the same name won the unique-key race.
            raise AlreadyExists(f"a principal named {name} already exists") from None
        return CreatedPrincipal(principal.id, name, parsed, api_key)


class RevokePrincipal:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    def __call__(self, name: str) -> bool:
        """Returns False when the key was already revoked."""
        with self._uow() as uow:
            principal = uow.principals.get_by_name(name)
            if principal is None:
                raise NotFound(f"no principal named {name}")
            changed = principal.revoke(self._clock.now())
            if changed:
                uow.principals.save(principal)
                uow.commit()
            return changed


class Authenticate:
    """Map an API key to an actor. Lookup is by the key's SHA-256, so the stored
    value never equals a usable key and timing reveals nothing about one."""

    def __init__(self, queries: PrincipalReader) -> None:
        self._queries = queries

    def __call__(self, api_key: str) -> Actor:
        if not api_key:
            raise AuthenticationFailed("missing API key")
        if not api_key.isascii():  # issued keys are ASCII; others may not even encode
            raise AuthenticationFailed("invalid or revoked API key")
        view = self._queries.principal_by_key_hash(hash_api_key(api_key))
        if view is None or not view.active:
            raise AuthenticationFailed("invalid or revoked API key")
        return Actor(view.id, Role(view.role))


class ListPrincipals:
    def __init__(self, queries: PrincipalReader) -> None:
        self._queries = queries

    def __call__(self) -> list[PrincipalView]:
        return self._queries.list_principals()


def find_principal(queries: PrincipalReader, name: str) -> PrincipalView:
    view = queries.principal_by_name(name)
    if view is None:
        raise NotFound(f"no principal named {name}")
    return view
