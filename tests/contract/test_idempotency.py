"""Idempotency contract: one record per (principal, key); a second is refused; old ones purge."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.domain.idempotency import IdempotencyRecord
from core.ports.errors import DuplicateIdempotencyKey
from tests.contract.conftest import Backend

RESPONSE = {
    "id": "order-1",
    "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": 150, "line_total": 300}],
    "total": 300,
    "cancel_reason": None,
    "created_at": "2026-01-01T00:00:00+00:00",
}


def _record(
    backend: Backend, principal: str, key: str, order_id: str = "order-1"
) -> IdempotencyRecord:
    return IdempotencyRecord(principal, key, "f" * 64, order_id, RESPONSE, backend.clock.now())


def test_a_record_round_trips(backend: Backend) -> None:
    record = _record(backend, "alice", "key-1")
    with backend.uow() as uow:
        assert uow.idempotency.get("alice", "key-1") is None
        uow.idempotency.add(record)
        uow.commit()
    with backend.uow() as uow:
        assert uow.idempotency.get("alice", "key-1") == record
        assert uow.idempotency.get("bob", "key-1") is None
        assert uow.idempotency.get("alice", "key-2") is None


def test_the_same_key_of_the_same_principal_is_refused(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.idempotency.add(_record(backend, "alice", "key-1"))
        uow.commit()
    # Refused at add or at commit: either way nothing of the second attempt is kept.
    with pytest.raises(DuplicateIdempotencyKey), backend.uow() as uow:
        uow.idempotency.add(_record(backend, "alice", "key-1", order_id="order-2"))
        uow.commit()
    with backend.uow() as uow:
        kept = uow.idempotency.get("alice", "key-1")
        uow.idempotency.add(_record(backend, "bob", "key-1", order_id="order-3"))
        uow.commit()
    assert kept is not None and kept.order_id == "order-1"


def test_records_older_than_the_cutoff_are_purged(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.idempotency.add(_record(backend, "alice", "old"))
        uow.commit()
    backend.clock.advance(3600)
    cutoff = backend.clock.now()
    with backend.uow() as uow:
        uow.idempotency.add(_record(backend, "alice", "new"))
        uow.commit()
    with backend.uow() as uow:
        assert uow.idempotency.purge_older_than(cutoff - timedelta(hours=2)) == 0
        assert uow.idempotency.purge_older_than(cutoff) == 1
        uow.commit()
    with backend.uow() as uow:
        assert uow.idempotency.get("alice", "old") is None
        assert uow.idempotency.get("alice", "new") is not None
