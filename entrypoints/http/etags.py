"""Strong ETags for orders: the order's version, which every change increments."""

from __future__ import annotations

import re
from collections.abc import Callable

_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')
# Our tags are a version: ASCII digits only (str.isdigit() also takes "²", which int()
# refuses), and few enough to be a 64-bit integer a database can compare.
_VERSION = re.compile(r"[0-9]{1,18}", re.ASCII)


def is_version_tag(opaque: str) -> bool:
    return _VERSION.fullmatch(opaque) is not None


def etag(version: int) -> str:
    return f'"{version}"'


def _tags(header: str) -> list[tuple[bool, str]]:
    """(weak, opaque) pairs of an If-Match / If-None-Match list; malformed parts are skipped."""
    return [(bool(m.group(1)), m.group(2)) for m in _TAG.finditer(header)]


def none_match(header: str | None, version: int) -> bool:
    """True when If-None-Match matches the current version (weak comparison): answer 304."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return any(opaque == str(version) for _, opaque in _tags(header))


def if_match_versions(header: str | None) -> set[int] | None:
    """Versions an If-Match accepts; None when there is no precondition (absent or `*`).

    Strong comparison: weak tags and tags that are not ours never match, which
    gives an empty set, so the precondition fails (412) once the order is found.
    """
    if header is None or header.strip() == "*":
        return None
    return {int(opaque) for weak, opaque in _tags(header) if not weak and is_version_tag(opaque)}


NEVER = -1  # a version no order has: the precondition fails once the order is found


def expected_version(if_match: str | None, current: Callable[[], int]) -> int | None:
    """The version to hand the core for an If-Match (it compares exactly one).

    No precondition gives None. With several tags, the current version is offered
    if listed (read via `current`; the core still checks it atomically).
    """
    accepted = if_match_versions(if_match)
    if accepted is None:
        return None
    if len(accepted) == 1:
        return next(iter(accepted))
    if accepted:
        version = current()
        if version in accepted:
            return version
    return NEVER
