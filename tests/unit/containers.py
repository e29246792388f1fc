"""Memory containers for the unit suite, recycled between tests instead of rebuilt.

`build_container` costs dependency-injector a deep copy of every provider (about 5 ms of
CPU here; the unit suite used to build some 230 containers, a quarter of its run time).
A recycled container is reset to exactly what `build_container` returns: every override
dropped (clock, test doubles, a test's dispatcher), every singleton forgotten (store,
commit hooks, gateway and ledger, notifier, ...), the settings loaded again and the use
cases traced again if tracing is on. So no test sees anything of an earlier one
(test_container.py::test_a_recycled_container_keeps_nothing_of_its_last_use).
"""

from __future__ import annotations

from collections import defaultdict

from dependency_injector import providers

from entrypoints.container import Container, build_container, trace_use_cases
from entrypoints.settings import Settings

MEMORY = Settings(database_url="memory://")

_spare: defaultdict[Settings, list[Container]] = defaultdict(list)
_lent: dict[int, tuple[Settings, Container]] = {}
# Each container's singleton providers, listed once: `reset_singletons` walks the whole
# provider graph to find them on every call (three quarters of a recycle's CPU). With the
# overrides dropped first, the graph is the one `build_container` made, so the list holds.
_singletons: dict[int, list[providers.BaseSingleton[object]]] = {}


def lend(settings: Settings = MEMORY) -> Container:
    """A container as `build_container(settings)` returns it; back by `recycle` (or
    `recycle_all` after each test)."""
    if settings.storage != "memory":
        raise ValueError("only memory containers are recycled (a SQL one holds a database)")
    spare = _spare[settings]
    if spare:
        container = spare.pop()
    else:
        container = build_container(settings)
        _singletons[id(container)] = list(container.traverse(types=[providers.BaseSingleton]))
    _lent[id(container)] = (settings, container)
    return container


def recycle(container: Container) -> None:
    """Take `container` back, reset; a container not lent here is left alone."""
    lent = _lent.pop(id(container), None)
    if lent is None:
        return
    settings, _ = lent
    container.reset_override()  # the configuration's values are an override too
    for singleton in _singletons[id(container)]:  # container.reset_singletons(), listed
        singleton.reset()
    container.config.from_dict(settings.as_config())
    trace_use_cases(container)
    _spare[settings].append(container)


def recycle_all() -> None:
    for _, container in list(_lent.values()):
        recycle(container)
