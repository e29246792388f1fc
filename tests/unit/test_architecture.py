"""The core imports only the standard library and itself (docs/architecture.md).

import-linter checks the same in CI; this test also catches imports hidden from it
(inside functions or under TYPE_CHECKING) and dynamic imports. It reads the core's
source files, the only files the unit suite opens.
"""

from __future__ import annotations

import ast
import functools
import sys
from pathlib import Path

import pytest

import core

CORE = Path(core.__file__).resolve().parent
MODULES = sorted(CORE.rglob("*.py"))
DOMAIN = [p for p in MODULES if p.relative_to(CORE).parts[0] == "domain"]


def _name(path: Path) -> str:
    return path.relative_to(CORE).as_posix()


@functools.cache  # two tests read each domain module, and parsing is this file's cost
def _imports(source: str) -> frozenset[str]:
    """Absolute module names imported by `source`; relative imports count as core."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("core" if node.level else node.module or "")
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if called in {"__import__", "import_module"}:
                names.add("<dynamic import>")
    return frozenset(names)


def _foreign(source: str) -> set[str]:
    roots = {name.split(".")[0] for name in _imports(source)}
    return {r for r in roots if r != "core" and r not in sys.stdlib_module_names}


def test_the_checker_sees_every_kind_of_import() -> None:
    source = (
        "import json, sqlalchemy.orm\n"
        "from . import money\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from litestar import Request\n"
        "def f():\n    import pika\n    return __import__('click')\n"
    )
    assert _foreign(source) == {"sqlalchemy", "litestar", "pika", "<dynamic import>"}
    assert _foreign("from core.domain import orders\nimport dataclasses") == set()


def test_the_core_has_modules_to_check() -> None:
    names = {_name(p) for p in MODULES}
    assert {"domain/orders.py", "ports/unit_of_work.py", "use_cases/ordering.py"} <= names


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_core_module_imports_only_stdlib_or_core(path: Path) -> None:
    foreign = _foreign(path.read_text(encoding="utf-8"))
    assert foreign == set(), f"{_name(path)} imports {sorted(foreign)}"


@pytest.mark.parametrize("path", DOMAIN, ids=_name)
def test_the_domain_knows_neither_ports_nor_use_cases(path: Path) -> None:
    imports = _imports(path.read_text(encoding="utf-8"))
    assert not [m for m in imports if m.startswith(("core.ports", "core.use_cases"))]
