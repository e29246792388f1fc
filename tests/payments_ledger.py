"""Reading the simulated gateway's ledger in tests, and the payment audit.

The ledger store has one row per gateway call (adapters/payments/ledger.py). The
counts here are counts of those rows, so a second capture for one order (or a refund
with no capture before it) shows up as such instead of being merged into one entry.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from adapters.payments.ledger import DECIDING, LedgerCall, LedgerStore, SqliteLedger


class LedgerReader:
    """A read-only view over a ledger store."""

    def __init__(self, store: LedgerStore) -> None:
        self._store = store

    @classmethod
    def at(cls, path: str) -> LedgerReader:
        """The ledger in a SQLite file that other processes write."""
        return cls(SqliteLedger(path))

    def calls(self, kind: str | None = None) -> list[LedgerCall]:
        """Every call in order (of `kind` only, if given)."""
        return [c for c in self._store.calls() if kind is None or c.kind == kind]

    def decisions(self) -> list[LedgerCall]:
        """The calls that decided (captured, declined, refunded), in order."""
        return [c for c in self._store.calls() if c.outcome in DECIDING]

    def _count(self, kind: str, outcomes: frozenset[str] | None = None) -> dict[str, int]:
        return dict(
            Counter(c.key for c in self.calls(kind) if outcomes is None or c.outcome in outcomes)
        )

    def charges(self) -> dict[str, int]:
        """Key -> how many charge calls decided under it (a capture or a decline)."""
        return self._count("charge", frozenset({"captured", "declined"}))

    def captured(self) -> set[str]:
        """Keys under which money was captured."""
        return set(self._count("charge", frozenset({"captured"})))

    def refunds(self) -> dict[str, int]:
        """Key -> how many refund calls returned money under it."""
        return self._count("refund", frozenset({"refunded"}))

    def charge_calls(self) -> dict[str, int]:
        """Key -> every charge call that reached the gateway: replays (redeliveries the
        idempotency key absorbed) and injected failures included."""
        return self._count("charge")


@dataclass(frozen=True)
class OrderFacts:
    """What the order store says about an order, to check the ledger against."""

    status: str
    total: int
    cancel_reason: str | None = None


def payment_problems(calls: Sequence[LedgerCall], orders: Mapping[str, OrderFacts]) -> list[str]:
    """Everything wrong with the gateway calls `calls` for settled `orders` (keyed by
    order id, the idempotency key): calls under unknown keys; an order whose money was
    captured (or a decision made) more than once, at another amount than its total, or
    refunded more than once or without an earlier capture of the same amount; a paid or
    shipped order not captured, or refunded; a declined one captured; a cancelled one
    whose capture was not refunded exactly once."""
    by_order: defaultdict[str, list[LedgerCall]] = defaultdict(list)
    for call in calls:
        by_order[call.key].append(call)
    problems = [f"gateway called under an unknown key {k}" for k in by_order if k not in orders]
    for order_id, facts in orders.items():
        rows = by_order.get(order_id, [])
        captures = [r for r in rows if r.kind == "charge" and r.outcome == "captured"]
        declines = [r for r in rows if r.kind == "charge" and r.outcome == "declined"]
        refunds = [r for r in rows if r.kind == "refund" and r.outcome == "refunded"]
        say = problems.append
        if len(captures) > 1:
            say(f"{order_id}: money captured {len(captures)} times")
        if len(captures) + len(declines) > 1:
            say(f"{order_id}: {len(captures) + len(declines)} charge decisions")
        if len(refunds) > 1:
            say(f"{order_id}: refunded {len(refunds)} times")
        for capture in captures:
            if capture.amount != facts.total:
                say(f"{order_id}: captured {capture.amount}, the order's total is {facts.total}")
        for refund in refunds:
            if not any(
                c.seq < refund.seq and (c.amount, c.currency) == (refund.amount, refund.currency)
                for c in captures
            ):
                say(f"{order_id}: refund {refund.seq} without a matching capture before it")
        moved = f"{len(captures)} captures, {len(refunds)} refunds"
        if facts.status in ("paid", "shipped"):
            if not captures or refunds:
                say(f"{order_id}: {facts.status} with {moved}")
        elif facts.status == "cancelled" and facts.cancel_reason == "payment_declined":
            if captures or refunds or not declines:
                say(f"{order_id}: declined with {len(declines)} declines, {moved}")
        elif facts.status == "cancelled":
            if len(refunds) != len(captures):
                say(f"{order_id}: cancelled with {moved}")
        elif captures or refunds:
            say(f"{order_id}: {facts.status} with {moved}")
    return problems


def assert_payments_audited(calls: Sequence[LedgerCall], orders: Mapping[str, OrderFacts]) -> None:
    problems = payment_problems(calls, orders)
    assert not problems, "payment audit failed:\n" + "\n".join(problems)
