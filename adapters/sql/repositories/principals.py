"""Principals (API clients), found by id, name or the hash of their key."""

from __future__ import annotations

from adapters.sql import mapping, staged
from adapters.sql.prepared import select_rows
from adapters.sql.repositories.base import VersionedRepository, on_duplicate
from adapters.sql.repositories.statements import (
    PRINCIPAL_BY,
    PRINCIPAL_INSERT,
    PRINCIPAL_UPDATE,
)
from core.domain.principals import Principal
from core.ports.errors import ConcurrencyConflict


class SqlPrincipalRepository(VersionedRepository):
    _by_key = PRINCIPAL_BY["id"]
    _key_param = "value"

    def _by(self, column: str, value: str) -> Principal | None:
        rows = select_rows(self._conn, PRINCIPAL_BY[column], {"value": value})
        if not rows:
            return None
        principal = mapping.principal_from_row(rows[0])
        self._loaded[principal.id] = principal.version
        return principal

    def get(self, principal_id: str) -> Principal | None:
        return self._by("id", principal_id)

    def get_by_name(self, name: str) -> Principal | None:
        return self._by("name", name)

    def get_by_key_hash(self, key_hash: str) -> Principal | None:
        return self._by("key_hash", key_hash)

    def add(self, principal: Principal) -> None:
        staged.send_staged()
        on_duplicate(
            lambda: ConcurrencyConflict(f"principal {principal.name} exists"),
            self._conn.execute,
            PRINCIPAL_INSERT,
            mapping.principal_values(principal),
        )
        self._loaded[principal.id] = principal.version

    def save(self, principal: Principal) -> None:
        values = mapping.principal_values(principal)
        values["k_id"] = values.pop("id")
        self._update(PRINCIPAL_UPDATE, [(principal.id, principal.version, values)])
