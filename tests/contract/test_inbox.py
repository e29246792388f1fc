"""Inbox contract: which handler processed which event, committed with the handler's effect."""

from __future__ import annotations

import pytest

from core.ports.errors import ConcurrencyConflict
from tests.contract.conftest import Backend


def test_an_event_is_seen_once_its_handler_committed(backend: Backend) -> None:
    with backend.uow() as uow:
        assert not uow.inbox.seen("payments.charge", "event-1")
        uow.inbox.add("payments.charge", "event-1")
        assert uow.inbox.seen("payments.charge", "event-1")
        uow.commit()
    with backend.uow() as uow:
        assert uow.inbox.seen("payments.charge", "event-1")
        assert not uow.inbox.seen("payments.refund", "event-1")
        assert not uow.inbox.seen("payments.charge", "event-2")


def test_a_rolled_back_handler_leaves_the_event_unseen(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.inbox.add("payments.charge", "event-1")
    with backend.uow() as uow:
        assert not uow.inbox.seen("payments.charge", "event-1")


def test_recording_an_event_twice_is_a_conflict(backend: Backend) -> None:
    with backend.uow() as uow:
        uow.inbox.add("payments.charge", "event-1")
        uow.commit()
    with pytest.raises(ConcurrencyConflict), backend.uow() as uow:
        uow.inbox.add("payments.charge", "event-1")
        uow.commit()
    with backend.uow() as uow:
        uow.inbox.add("notifications.order_paid", "event-1")
        uow.commit()
