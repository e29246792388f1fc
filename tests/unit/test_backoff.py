"""The one backoff rule, and the retry loops that use it surviving a long outage."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from adapters.messaging.relay import OutboxRelay
from adapters.webhooks.runner import WebhookRunner
from core.domain.backoff import backoff

# Past about a thousand doublings an unbounded power of two no longer fits a float.
LONG_OUTAGE = 1_100


def test_the_delay_doubles_from_the_first_up_to_the_cap() -> None:
    assert [backoff(n, 0.25, 10.0) for n in range(1, 9)] == [
        0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0,
    ]  # fmt: skip
    assert backoff(0, 0.25, 10.0) == 0.25  # no failure yet counts as the first


@pytest.mark.parametrize("failures", [LONG_OUTAGE, 10**9])
def test_a_failure_streak_of_any_length_gives_the_cap(failures: int) -> None:
    assert backoff(failures, 0.001, 3600.0) == 3600.0


@pytest.fixture
def quiet_loops() -> Iterator[None]:
    """The loops log each failure with its traceback: a thousand of them would cost
    the unit suite a third of a second, and what they say is not under test here."""
    loggers = [logging.getLogger(name) for name in ("orderly.messaging.relay", "orderly.webhooks")]
    for logger in loggers:
        logger.disabled = True
    yield
    for logger in loggers:
        logger.disabled = False


class _DownFor:
    """Fails `times` calls, then stops the loop through `stop`."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.calls = 0
        self.stop: Callable[[], None] = lambda: None

    def __call__(self) -> int:
        self.calls += 1
        if self.calls <= self.times:
            raise ConnectionError("dependency down")
        self.stop()
        return 0


class _FailingOutbox:
    def __init__(self, down: _DownFor) -> None:
        self._down = down

    def relay_batch(self, limit: int, deliver: Callable[..., None]) -> int:
        return self._down()


def test_the_relay_keeps_retrying_through_a_long_outage(quiet_loops: None) -> None:
    down = _DownFor(LONG_OUTAGE)
    relay = OutboxRelay(_FailingOutbox(down), lambda envelopes: None, max_backoff=0.0)
    down.stop = relay.stop
    relay.run()  # returns only once stopped: every failure was waited out
    assert down.calls == LONG_OUTAGE + 1


class _FailingPass:
    def __init__(self, down: _DownFor) -> None:
        self._down = down

    def run_once(self, limit: int = 100, pool: ThreadPoolExecutor | None = None) -> int:
        return self._down()


def test_the_webhook_sender_keeps_retrying_through_a_long_outage(quiet_loops: None) -> None:
    down = _DownFor(LONG_OUTAGE)
    runner = WebhookRunner(_FailingPass(down), poll_seconds=0.0, concurrency=1)
    down.stop = lambda: runner.stop(timeout=0.0)
    runner.run()
    assert down.calls == LONG_OUTAGE + 1
