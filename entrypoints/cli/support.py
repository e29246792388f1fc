"""What every command shares: building the container once, and turning expected
errors into one line and an exit code instead of a traceback."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

from core.domain.errors import DomainError
from core.ports.errors import ConcurrencyConflict, DependencyUnavailable
from entrypoints.settings import ConfigError

if TYPE_CHECKING:  # the container imports every adapter: only commands that run pay for it
    from entrypoints.container import Container

P = ParamSpec("P")
R = TypeVar("R")


class CliState:
    """Lazily builds the container, so that `--help` never touches configuration."""

    def __init__(self, container: Container | None = None) -> None:
        self._container = container

    @property
    def container(self) -> Container:
        if self._container is None:
            from entrypoints.container import build_container

            try:
                self._container = build_container()
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
            except DependencyUnavailable as exc:  # a startup check found it down
                raise click.ClickException(unavailable_message(exc)) from None
        return self._container


def container() -> Container:
    state = click.get_current_context().find_object(CliState)
    if state is None:
        raise click.ClickException("internal: no CLI state")
    return state.container


# Which variable points at each dependency, so that the message names what to fix.
_VARIABLES = {"database": "ORDERLY_DATABASE_URL", "rabbitmq": "ORDERLY_RABBITMQ_URL"}


def unavailable_message(exc: DependencyUnavailable) -> str:
    """One line: what is down and which variable to check (unless it already says)."""
    message = " ".join(str(exc).split())
    variable = _VARIABLES.get(exc.dependency)
    if variable is not None and variable not in message:
        message += f" (check {variable})"
    return message


def refusals(fn: Callable[P, R]) -> Callable[P, R]:
    """Expected errors exit 1 with one line naming what was wrong; no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            raise click.ClickException(exc.detail) from None
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        except DependencyUnavailable as exc:
            raise click.ClickException(unavailable_message(exc)) from None
        except ConcurrencyConflict as exc:
            raise click.ClickException(f"busy, try again: {exc}") from None

    return wrapper


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, default=str, sort_keys=True))
