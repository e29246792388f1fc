"""One request header read straight from the ASGI scope (entrypoints/http/scope_headers.py)."""

from __future__ import annotations

from typing import Any

from entrypoints.http.scope_headers import scope_header


def test_the_first_value_of_the_named_header_whatever_its_case() -> None:
    headers = [
        (b"Content-Type", b"application/json"),
        (b"authorization", b"Bearer one"),
        (b"authorization", b"Bearer two"),
    ]
    scope: Any = {"headers": headers}
    assert scope_header(scope, b"content-type") == "application/json"
    assert scope_header(scope, b"authorization") == "Bearer one"
    assert scope_header(scope, b"x-request-id") is None
    assert scope_header({}, b"authorization") is None  # type: ignore[arg-type]
