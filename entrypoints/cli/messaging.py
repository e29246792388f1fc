"""`orderly worker | relay | outbox | dlq`: event delivery and its operation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from core.ports.errors import DependencyUnavailable
from entrypoints.cli.output import console
from entrypoints.cli.support import container, echo_json, refusals

if TYPE_CHECKING:  # pika, SQLAlchemy and friends load when a command runs, not for --help
    from entrypoints.container import Container

_NEEDS_RABBITMQ = (
    "{what} needs ORDERLY_MESSAGING=rabbitmq; with in-process messaging "
    "`orderly serve` delivers events itself"
)


def _rabbitmq_container(what: str) -> Container:
    c = container()
    if c.config.delivery() != "rabbitmq":
        raise click.ClickException(_NEEDS_RABBITMQ.format(what=what))
    return c


def _configure_logging(c: Container) -> None:
    from entrypoints.logs import configure_logging

    configure_logging(c.config.log_level())  # also quiets pika (see entrypoints/logs.py)


def _serve_metrics(port: int | None) -> None:
    if port:
        from prometheus_client import start_http_server

        start_http_server(port)


_METRICS = click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve Prometheus metrics on this port (off by default).",
)


@click.command()
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Consumer threads, each with its own RabbitMQ connection (handlers mostly "
    "wait on database commits, so threads help even on few cores).",
)
@_METRICS
@refusals
def worker(threads: int, metrics_port: int | None) -> None:
    """Consume events from RabbitMQ and run the handlers; sweep unpaid orders.

    Runs until SIGTERM or Ctrl-C, then finishes the deliveries in hand and
    returns the rest to the queue. Run several for more throughput.
    """
    c = _rabbitmq_container("orderly worker")
    _configure_logging(c)
    _serve_metrics(metrics_port)
    from entrypoints.worker import run_worker

    if status := run_worker(c, threads):
        raise SystemExit(status)


@click.command()
@click.option("--once", is_flag=True, help="Publish the current backlog, then exit.")
@_METRICS
@refusals
def relay(once: bool, metrics_port: int | None) -> None:
    """Publish committed outbox events to RabbitMQ (safe to run several).

    Each event is marked sent only after the broker confirmed it.
    """
    c = _rabbitmq_container("orderly relay")
    _configure_logging(c)
    from entrypoints.worker import drain_outbox, run_relay

    if once:
        click.echo(f"published {drain_outbox(c)} events")
        return
    _serve_metrics(metrics_port)
    if status := run_relay(c):
        raise SystemExit(status)


@click.group()
def outbox() -> None:
    """The transactional outbox: events committed but not yet delivered."""


@outbox.command("status")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print {backlog, oldest_age_seconds, dead_letters}.",
)
@refusals
def outbox_status(as_json: bool) -> None:
    """How many events wait for delivery, how long the oldest has waited, and how many
    deliveries are dead-lettered (null when RabbitMQ cannot be reached)."""
    c = container()
    status = c.outbox_queries().status()
    try:
        dead: int | None = c.dead_letters().count()
    except DependencyUnavailable as exc:
        click.echo(f"warning: dead letters unknown: {exc}", err=True)
        dead = None
    if as_json:
        echo_json(
            {
                "backlog": status.backlog,
                "oldest_age_seconds": status.oldest_age_seconds,
                "dead_letters": dead,
            }
        )
        return
    age = "-" if status.oldest_age_seconds is None else f"{status.oldest_age_seconds:.1f}s"
    parked = "unknown" if dead is None else str(dead)
    click.echo(f"backlog: {status.backlog} events, oldest waiting {age}; dead letters: {parked}")


@click.group()
def dlq() -> None:
    """Dead-lettered deliveries: those that failed every attempt (both messaging modes).

    With RabbitMQ they wait in the orderly.dead-letter queue; with in-process
    messaging in the dead_letters table. Same commands, same output.
    """


@dlq.command("list")
@click.option(
    "--limit", type=click.IntRange(1, 10_000), default=100, show_default=True, help="At most."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object each.")
@refusals
def dlq_list(limit: int, as_json: bool) -> None:
    """Show dead letters without removing them, oldest first."""
    letters = container().dead_letters().peek(limit)
    if as_json:
        echo_json([letter.to_dict() for letter in letters])
        return
    if not letters:
        click.echo("the dead-letter queue is empty")
        return
    from rich.table import Table

    table = Table("event id", "type", "queue", "attempts", "dead-lettered at", "error")
    for letter in letters:
        table.add_row(
            letter.event_id,
            letter.event_type,
            letter.queue,
            str(letter.attempts),
            letter.dead_lettered_at,
            letter.error,
        )
    console().print(table)


@dlq.command("replay")
@click.option("--event-id", default=None, help="Only the dead letter(s) of this event.")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=None, help="At most.")
@click.option("--json", "as_json", is_flag=True, help="Print the replayed letters as JSON.")
@refusals
def dlq_replay(event_id: str | None, limit: int | None, as_json: bool) -> None:
    """Send dead letters back to their handler with a fresh attempt count.

    RabbitMQ: back to the handler's queue. In-process: delivered to the handler
    here and now; one that fails every attempt again is dead-lettered anew.
    Fix the cause first (see `orderly dlq list`): a replayed letter that fails
    again returns here after the usual retries. Handlers ignore events they
    already processed, so replaying twice is harmless.
    """
    replayed = container().dead_letters().replay(event_id, limit)
    if as_json:
        echo_json([letter.to_dict() for letter in replayed])
        return
    click.echo(f"replayed {len(replayed)} dead letters")


@dlq.command("purge")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@refusals
def dlq_purge(yes: bool) -> None:
    """Delete every dead letter (their events are not delivered to those handlers)."""
    c = container()
    if not yes:
        click.confirm("Delete every dead-lettered message?", abort=True)
    click.echo(f"purged {c.dead_letters().purge()} dead letters")


def register(cli: click.Group) -> None:
    """Add this family's commands to the `orderly` group."""
    for command in (worker, relay, outbox, dlq):
        cli.add_command(command)
