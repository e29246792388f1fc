"""A request header read straight from the ASGI scope.

`request.headers` builds a Headers object for the whole list; the few places that
want one header on every request (the key, the content type, the request id) look
it up in the scope's list as it came, which was a few per cent of the event loop
(py-spy, issue 9).
"""

from __future__ import annotations

from litestar.types import Scope


def scope_header(scope: Scope, name: bytes) -> str | None:
    """The first value of header `name` (lower case), or None."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:  # ASGI servers lower-case names; tolerate those that do not
            return str(value.decode("latin-1"))
    return None
