"""What the messaging fault tests share: a deployment of real processes on PostgreSQL
and RabbitMQ, a stream of orders, a TCP proxy that can cut the broker off, and the
audit every fault test ends with.

Run as a module it starts a worker whose gateway rejects some amounts (the poison
test's fixable fault): `python -m tests.integration.messaging_support poison-worker`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pika
import pytest
from sqlalchemy import text

from adapters.sql import migrate
from adapters.sql.database import SqlDatabase
from core.domain.money import Money
from core.domain.orders import RequestedLine
from core.domain.principals import Role
from core.ports.payments import ChargeResult, PaymentGateway, RefundResult
from core.use_cases.catalog import CreateProductCommand
from core.use_cases.handlers import WEBHOOK_FANOUT
from core.use_cases.ordering import CancelOrderCommand, PlaceOrderCommand
from core.use_cases.support import Actor
from entrypoints.container import Container, build_container
from entrypoints.settings import Settings
from tests.payments_ledger import LedgerReader, OrderFacts, assert_payments_audited

ROOT = Path(__file__).resolve().parents[2]
ORDERLY = str(Path(sys.executable).with_name("orderly"))
DEADLINE = 120.0  # bound on every wait, so a broken build fails instead of hanging

PRICE = 1000
DECLINE_ABOVE = 5000  # quantity 6 (6000) is declined, quantity 1 is not
SKUS = ("FAULT-A", "FAULT-B", "FAULT-C", "FAULT-D")


def wait_until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    give_up = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


@dataclass
class Deployment:
    """API (this process, through the container), relay and worker processes."""

    tmp: Path
    database_url: str
    broker_url: str  # direct, for the test's own inspection
    rabbitmq_url: str  # what the processes use (maybe through a proxy)
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _logs: Iterator[int] = field(default_factory=itertools.count)

    @property
    def ledger_path(self) -> str:
        return str(self.tmp / "ledger.db")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERLY_")}
        env.update(
            ORDERLY_DATABASE_URL=self.database_url,
            ORDERLY_MESSAGING="rabbitmq",
            ORDERLY_RABBITMQ_URL=self.rabbitmq_url,
            ORDERLY_PAYMENTS_LEDGER_PATH=self.ledger_path,
            ORDERLY_PAYMENTS_DECLINE_ABOVE=str(DECLINE_ABOVE),
            ORDERLY_RABBITMQ_PREFETCH="50",
            ORDERLY_RELAY_BATCH_SIZE="100",
            # A killed relay's batch is claimed again after this (the faults tests kill one).
            ORDERLY_OUTBOX_LEASE_SECONDS="3",
            ORDERLY_LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def settings(self) -> Settings:
        return Settings.from_env(self.env())

    def spawn(
        self, name: str, *command: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a process of the deployment; `env` overrides variables for it alone."""
        log = self.tmp / f"{name}-{next(self._logs)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                list(command),
                cwd=ROOT,
                env=self.env() | (env or {}),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def orderly(
        self, name: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        return self.spawn(name, ORDERLY, *args, env=env)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """An operator command, to completion."""
        return subprocess.run(
            [ORDERLY, *args], cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=60
        )

    def logs(self, prefix: str) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.tmp.glob(f"{prefix}-*")))

    def stop_all(self) -> None:
        """SIGTERM every process this deployment started (by pid), SIGKILL stragglers."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def deployment(
    tmp: Path, postgres_url: str, rabbitmq_url: str, **extra_env: str
) -> Iterator[Deployment]:
    database = SqlDatabase.from_url(postgres_url)
    migrate.upgrade(database)
    database.dispose()
    deploy = Deployment(tmp, postgres_url, rabbitmq_url, rabbitmq_url, dict(extra_env))
    try:
        yield deploy
    except BaseException:
        for prefix in ("worker", "relay"):  # what the processes said, for the failure report
            sys.stderr.write(f"--- {prefix} logs (tail) ---\n{deploy.logs(prefix)[-4000:]}\n")
        raise
    finally:
        deploy.stop_all()


def await_consumers(broker_url: str, queue: str = "orderly.payments.charge") -> None:
    """Wait until a worker consumes (the topology exists and a consumer is attached)."""

    def consuming() -> bool:
        try:
            connection = pika.BlockingConnection(pika.URLParameters(broker_url))
        except pika.exceptions.AMQPError:
            return False
        try:
            channel = connection.channel()
            return bool(channel.queue_declare(queue, passive=True).method.consumer_count > 0)
        except pika.exceptions.AMQPError:
            return False
        finally:
            if connection.is_open:
                connection.close()

    wait_until(consuming, f"a consumer on {queue}")


class Shop:
    """The API side: places and cancels orders through the use cases, as the HTTP
    handlers do (one transaction each, no broker I/O)."""

    def __init__(self, deploy: Deployment) -> None:
        self.c: Container = build_container(deploy.settings())
        for sku in SKUS:
            self.c.create_product()(CreateProductCommand(sku, f"Fault {sku}", PRICE, True, 100_000))
        self.expected: dict[str, str] = {}  # order id -> expected final status
        self._lock = threading.Lock()
        self._numbers = itertools.count()

    def place_one(self, quantity: int | None = None) -> str:
        """Place the next order of the mix: most are paid; every 10th is declined (too
        dear); every 9th is cancelled by its customer at once (before or after the
        charge, a race); every 11th also cancels, as an admin, an order already paid
        (a refund)."""
        n = next(self._numbers)
        declined = quantity is None and n % 10 == 3
        qty = quantity if quantity is not None else (6 if declined else 1)
        cmd = PlaceOrderCommand(f"cust-{n % 7}", [RequestedLine(SKUS[n % len(SKUS)], qty)])
        order_id = str(self.c.place_order()(cmd).order.id)
        status = "cancelled" if declined else "paid"
        if quantity is None and n % 9 == 5:
            self.c.cancel_order()(
                CancelOrderCommand(order_id, Actor(f"cust-{n % 7}", Role.CUSTOMER))
            )
            status = "cancelled"
        with self._lock:
            self.expected[order_id] = status
        if quantity is None and n % 11 == 0:
            self._cancel_a_paid_order()
        return order_id

    def _cancel_a_paid_order(self) -> None:
        paid = [o for o, s in self.statuses().items() if s == "paid"]
        with self._lock:
            candidates = [o for o in paid if self.expected.get(o) == "paid"]
            if not candidates:
                return
            chosen = candidates[len(candidates) // 2]
            self.expected[chosen] = "cancelled"
        self.c.cancel_order()(CancelOrderCommand(chosen, Actor("admin", Role.ADMIN)))

    def stream(self, count: int, threads: int = 3) -> OrderStream:
        return OrderStream(self, count, threads)

    def status(self, order_id: str) -> str:
        view = self.c.queries().get_order(order_id)
        assert view is not None, order_id
        return str(view.status)

    def statuses(self) -> dict[str, str]:
        """Every order's status in one query (progress polls must not load the API)."""
        database: SqlDatabase = self.c.database()
        with database.engine.connect() as conn:
            return {str(i): str(s) for i, s in conn.execute(text("SELECT id, status FROM orders"))}

    def settled(self) -> int:
        """How many orders have reached their expected state."""
        with self._lock:
            expected = dict(self.expected)
        statuses = self.statuses()
        return sum(1 for o, s in expected.items() if statuses.get(o) == s)

    def count_in(self, status: str) -> int:
        return sum(1 for s in self.statuses().values() if s == status)

    def unprocessed(
        self, subscribers: dict[str, list[str]], skip: Collection[str]
    ) -> list[tuple[str, str]]:
        """(handler, event id) pairs of committed events not yet in the inbox."""
        database: SqlDatabase = self.c.database()
        with database.engine.connect() as conn:
            events = conn.execute(text("SELECT type, event_id FROM outbox")).all()
            done = set(conn.execute(text("SELECT handler, event_id FROM processed_events")))
        return [
            (name, str(event_id))
            for kind, event_id in events
            if event_id not in skip
            for name in subscribers.get(kind, [])
            if (name, event_id) not in done
        ]

    def backlog(self) -> int:
        return int(self.c.queries().outbox_status().backlog)


class OrderStream:
    """Places `count` orders from several threads, in the background."""

    def __init__(self, shop: Shop, count: int, threads: int) -> None:
        self._shop = shop
        self._left = count
        self._lock = threading.Lock()
        self.placed = 0
        self.errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._left == 0:
                    return
                self._left -= 1
            try:
                self._shop.place_one()
            except BaseException as exc:  # the API must keep accepting orders: recorded
                self.errors.append(exc)
                return
            with self._lock:
                self.placed += 1

    def join(self) -> None:
        for thread in self._threads:
            thread.join()
        assert not self.errors, f"placing orders failed: {self.errors[:3]}"


def queue_counts(broker_url: str) -> dict[str, tuple[int, int]]:
    """Queue -> (ready, unacknowledged), from the broker itself."""
    vhost = unquote(urlparse(broker_url).path.lstrip("/")) or "/"
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers",
         "name", "messages_ready", "messages_unacknowledged"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    counts = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            counts[parts[0]] = (int(parts[1]), int(parts[2]))
    return counts


@dataclass(frozen=True)
class AuditReport:
    orders: int
    paid: int
    cancelled: int
    refunded: int
    notification_log_duplicates: int  # sent again after a crash between send and commit


def _quiet(counts: dict[str, tuple[int, int]], dead_letters: int) -> bool:
    return all(
        n == ((dead_letters, 0) if q == "orderly.dead-letter" else (0, 0))
        for q, n in counts.items()
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects among a process's log lines (other output is skipped)."""
    found = []
    for raw in text.splitlines():
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def audit(shop: Shop, deploy: Deployment, dead_lettered: Collection[str] = ()) -> AuditReport:
    """The end state every fault test must reach (see the module docstring of each test).

    - every order reached its expected status;
    - the ledger (shared SQLite file, one row per gateway call from every worker process)
      shows at most one charge decision per order, one capture at the order's total for
      each paid order, none for declined ones, and exactly one refund, after the capture,
      for each cancelled order whose money was captured (`payment_problems`);
    - every event reached every subscriber: each (handler, event id) is in the inbox
      (processed_events), so each notification's effect was recorded once; the log
      lines of the notifier are counted too (at least once each);
    - the outbox is drained; no queue holds a ready or unacknowledged message except
      the events `dead_lettered` (ids), each once in the dead-letter queue.
    """
    c = shop.c
    subscribers: dict[str, list[str]] = {}
    for handler in c.handlers():
        if handler.name == WEBHOOK_FANOUT:
            continue  # idempotent by delivery id (uuid5 of webhook and event), not the inbox
        subscribers.setdefault(handler.event_type, []).append(handler.name)
    # Effects trail the statuses (a refund follows the cancellation): wait for the
    # pipeline to go quiet, then check.
    wait_until(lambda: shop.backlog() == 0, "the outbox to drain")
    wait_until(lambda: shop.settled() == len(shop.expected), "every order to settle")
    wait_until(
        lambda: not shop.unprocessed(subscribers, dead_lettered), "every handler to catch up"
    )
    wait_until(
        lambda: _quiet(queue_counts(deploy.broker_url), len(dead_lettered)),
        "the queues to empty",
    )
    statuses = {o: shop.status(o) for o in shop.expected}
    assert statuses == shop.expected

    # One ledger row per gateway call, from every worker process: a second capture for an
    # order, or a refund without a capture before it, fails here (tests/payments_ledger.py).
    ledger = LedgerReader.at(deploy.ledger_path)
    views = {o: c.queries().get_order(o) for o in statuses}
    facts = {}
    for order_id, view in views.items():
        assert view is not None
        facts[order_id] = OrderFacts(view.status, view.total, view.cancel_reason)
    assert_payments_audited(ledger.calls(), facts)
    refunds = ledger.refunds()

    notices: list[str] = []
    with c.uow_factory()() as uow:
        for order_id in statuses:
            events = c.queries().order_events(order_id)
            kinds = Counter(e.type for e in events)
            assert kinds["OrderPlaced"] == 1 and kinds["OrderPaid"] <= 1, (order_id, kinds)
            assert kinds["OrderCancelled"] == (statuses[order_id] == "cancelled"), order_id
            for event in events:
                if event.event_id in dead_lettered:
                    continue
                for name in subscribers.get(event.type, []):
                    assert uow.inbox.seen(name, event.event_id), (name, event.type, order_id)
                    if name.startswith("notifications."):
                        notices.append(event.event_id)
    logged = Counter(
        line["notification_event_id"]
        for line in json_lines(deploy.logs("worker"))
        if line.get("event") == "customer_notified"
    )
    missing = [e for e in notices if logged[e] == 0]
    assert not missing, f"{len(missing)} notifications recorded but never logged"

    counts = queue_counts(deploy.broker_url)
    leftovers = {q: n for q, n in counts.items() if n != (0, 0) and q != "orderly.dead-letter"}
    assert leftovers == {}, f"messages left in queues: {leftovers}"
    assert counts.get("orderly.dead-letter", (0, 0)) == (len(dead_lettered), 0)
    return AuditReport(
        orders=len(statuses),
        paid=sum(1 for s in statuses.values() if s == "paid"),
        cancelled=sum(1 for s in statuses.values() if s == "cancelled"),
        refunded=len(refunds),
        notification_log_duplicates=sum(logged[e] - 1 for e in notices),
    )


class TcpProxy:
    """Forwards a local port to the broker. `cut()` drops every connection and refuses
    new ones, as a stopped broker would; `restore()` accepts again. `hold_replies()`
    keeps what the broker sends (publisher confirms among it) from reaching the
    clients until `release_replies()`. Only this test's processes are affected: other
    tests on the machine's RabbitMQ are untouched."""

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._replies = threading.Event()
        self._replies.set()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self.restore()

    def url(self, broker_url: str) -> str:
        parsed = urlparse(broker_url)
        return parsed._replace(
            netloc=f"{parsed.username}:{parsed.password}@127.0.0.1:{self.port}"
        ).geturl()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        for sock in [s for s in [listener] if s is not None] + sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.release_replies()
        self.cut()

    def hold_replies(self) -> None:
        self._replies.clear()

    def release_replies(self) -> None:
        self._replies.set()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for source, sink, gate in (
                (client, upstream, None),
                (upstream, client, self._replies),
            ):
                threading.Thread(target=self._pump, args=(source, sink, gate), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, gate: threading.Event | None) -> None:
        try:
            while data := source.recv(65536):
                if gate is not None:
                    gate.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class PoisonGateway:
    """The simulated gateway, except that charges of the amounts listed in a file fail
    with a non-transient error (say, a merchant misconfiguration). Emptying the file is
    the fix."""

    def __init__(self, inner: PaymentGateway, poison_file: Path) -> None:
        self._inner = inner
        self._file = poison_file

    def charge(self, idempotency_key: str, amount: Money) -> ChargeResult:
        if str(amount.amount) in self._file.read_text().split():
            raise RuntimeError(f"gateway rejected amount {amount.amount}: merchant config")
        return self._inner.charge(idempotency_key, amount)

    def refund(self, idempotency_key: str) -> RefundResult:
        return self._inner.refund(idempotency_key)


def _poison_worker(poison_file: str) -> None:
    from dependency_injector import providers

    from entrypoints.logs import configure_logging
    from entrypoints.worker import run_worker

    configure_logging("INFO")  # the same JSON lines as `orderly worker`
    container = build_container()
    gateway: Any = container.gateway()
    container.gateway.override(providers.Object(PoisonGateway(gateway, Path(poison_file))))
    sys.exit(run_worker(container, threads=2))


if __name__ == "__main__":
    if sys.argv[1:2] == ["poison-worker"]:
        _poison_worker(sys.argv[2])
    else:
        sys.exit("usage: python -m tests.integration.messaging_support poison-worker FILE")
