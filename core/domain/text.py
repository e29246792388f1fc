"""What counts as text, and as an id, for every storage.

PostgreSQL refuses NUL in `text` and `\\u0000` in JSONB, and no driver can encode
a lone surrogate (legal in JSON as "\\ud800"). Text fields therefore refuse
control characters (C0, DEL, C1) and surrogates; the HTTP schemas use the same
pattern, so a request breaking the rule is refused before it reaches a driver.
"""

from __future__ import annotations

import re
from typing import TypeGuard

from core.domain.limits import MAX_ID_LENGTH

# One character that is text: no C0 control, DEL, C1 control or surrogate code point.
TEXT_CHAR = "[^\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff]"
_VISIBLE_CHAR = "[^\\s\\x00-\\x1f\\x7f-\\x9f\\ud800-\\udfff]"
TEXT_PATTERN = f"^{TEXT_CHAR}*{_VISIBLE_CHAR}{TEXT_CHAR}*$"
"""Non-blank text: at least one non-space character, none of them a control or surrogate.

Also a JSON Schema (ECMA) pattern, used by the HTTP schemas. Python callers must use
`fullmatch` (`$` alone would let a trailing newline through): see `is_nonblank_text`.
"""

_TEXT = re.compile(f"{TEXT_CHAR}*")
_NONBLANK_TEXT = re.compile(TEXT_PATTERN)

TOKEN_PATTERN = f"^[A-Za-z0-9._-]{{1,{MAX_ID_LENGTH}}}$"
"""A correlation id (a request's id, docs/api.md): what the 64-character `correlation_id`
column can store."""
_TOKEN = re.compile(TOKEN_PATTERN, re.ASCII)


def is_text(value: object) -> bool:
    """A str with no control character, NUL or lone surrogate (it may be empty or blank)."""
    return isinstance(value, str) and _TEXT.fullmatch(value) is not None


def is_nonblank_text(value: object) -> bool:
    """Text (see `is_text`) with at least one character that is not white space."""
    return isinstance(value, str) and _NONBLANK_TEXT.fullmatch(value) is not None


def is_correlation_id(value: object) -> TypeGuard[str]:
    """1-64 characters of A-Z a-z 0-9 . _ - (docs/api.md, request ids)."""
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def is_plausible_id(value: object) -> bool:
    """Could `value` be the id of a stored row (order, principal)? 1-64 characters of text.

    An id that cannot exist is refused before any lookup, so a driver never sees
    NUL or a surrogate: callers answer NotFound (an id looked up) or ValidationError (a
    filter).
    """
    return isinstance(value, str) and 1 <= len(value) <= MAX_ID_LENGTH and is_text(value)
