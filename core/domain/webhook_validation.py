"""What a webhook subscription may ask for: known event types, a short description, and
a target URL (http/https, no credentials) whose addresses are not loopback, private,
link-local, multicast, unspecified or reserved (the network-safety rule)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.domain.errors import FieldProblem, ValidationError
from core.domain.events import EVENT_TYPES
from core.domain.webhooks import MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH, WILDCARD

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalise_events(events: object, field_name: str = "events") -> tuple[str, ...]:
    """A non-empty list of known event types, or exactly ["*"]."""
    if not isinstance(events, list | tuple) or not events:
        raise _invalid(field_name, 'must be a non-empty list of event types, or ["*"]')
    names: list[str] = []
    for name in events:
        if not isinstance(name, str) or (name != WILDCARD and name not in EVENT_TYPES):
            known = ", ".join(sorted(EVENT_TYPES))
            raise _invalid(field_name, f"unknown event type {name!r}; known: {known} or *")
        if name not in names:
            names.append(name)
    if WILDCARD in names and len(names) > 1:
        raise _invalid(field_name, '"*" already means every event type; list it alone')
    return tuple(names)


def check_description(description: object) -> str:
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
        raise _invalid("description", f"must be text of at most {MAX_DESCRIPTION_LENGTH} chars")
    if _CONTROL.search(description):
        raise _invalid("description", "must not contain control characters")
    return description


@dataclass(frozen=True)
class Target:
    """A webhook URL split into what the network rule needs."""

    url: str
    scheme: str
    host: str
    port: int


def parse_url(url: object) -> Target:
    """Only absolute http/https URLs with a host, no credentials, no fragment."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise _invalid("url", f"must be an http or https URL of at most {MAX_URL_LENGTH} chars")
    if _CONTROL.search(url) or " " in url:
        raise _invalid("url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise _invalid("url", "is not a valid URL") from None
    if parts.scheme not in {"http", "https"}:
        raise _invalid("url", "must use http or https")
    if not host:
        raise _invalid("url", "must name a host")
    if parts.username is not None or parts.password is not None:
        raise _invalid("url", "must not carry credentials (user:password@)")
    if parts.fragment:
        raise _invalid("url", "must not have a #fragment")
    default_port = 443 if parts.scheme == "https" else 80
    return Target(url, parts.scheme, host, port or default_port)


def forbidden_address(address: str) -> str | None:
    """Why an IP address may not be a webhook target (None: it may)."""
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
            address.split("%", 1)[0]
        )
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    )
    for kind, hit in checks:
        if hit:
            return f"{ip} is a {kind} address"
    return None


def _invalid(field_name: str, message: str) -> ValidationError:
    return ValidationError(f"{field_name} {message}", [FieldProblem(field_name, message)])
