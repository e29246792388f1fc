"""Optional request headers read from the scope, checked and documented as Litestar would.

A handler that declares a header parameter makes Litestar build a multidict of all
the request's headers and validate its signature with it, on every request, whether
the header came or not. For GET /v1/orders/{id} (If-None-Match) that was about 4 %
of the request's instructions in the app (callgrind, session 17); POST /v1/orders
(Idempotency-Key) paid it as well. A `HeaderParam` instead:
- reads its one header from the scope's list (scope_headers.py);
- checks it with msgspec against the constraints it declares, so a bad value is the
  same 422 naming the header, with msgspec's own message, as before;
- documents itself in the operation's OpenAPI parameters (`documented`) as the
  declared parameter did, so clients and the fuzz test see no change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.enums import ParamType
from litestar.exceptions import ValidationException
from litestar.openapi.spec import OpenAPIType, Operation, Parameter, Schema

from entrypoints.http.scope_headers import scope_header


@dataclass(frozen=True)
class HeaderParam:
    """An optional header: `read` gives its value, None when absent; 422 if invalid."""

    name: str
    description: str
    max_length: int
    min_length: int | None = None
    pattern: str | None = None
    _key: bytes = field(init=False, repr=False)
    _type: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        meta = msgspec.Meta(
            min_length=self.min_length, max_length=self.max_length, pattern=self.pattern
        )
        object.__setattr__(self, "_key", self.name.lower().encode("latin-1"))
        object.__setattr__(self, "_type", Annotated[str, meta])

    def read(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
        value = scope_header(connection.scope, self._key)
        if value is None:
            return None
        try:
            return str(msgspec.convert(value, self._type))
        except msgspec.ValidationError as exc:
            # The form Litestar gives a parameter's error; problems.py maps it to 422.
            raise ValidationException(
                extra=[{"key": self.name, "message": str(exc), "source": "header"}]
            ) from None

    def parameter(self) -> Parameter:
        # What Litestar documents for an optional `str | None` header parameter.
        schema = Schema(
            one_of=[Schema(type=OpenAPIType.STRING), Schema(type=OpenAPIType.NULL)],
            max_length=self.max_length,
            min_length=self.min_length,
            pattern=self.pattern,
            description=self.description,
        )
        return Parameter(
            name=self.name,
            param_in=ParamType.HEADER,
            schema=schema,
            description=self.description,
            required=False,
            deprecated=False,
        )


def documented(*headers: HeaderParam, base: type[Operation] = Operation) -> type[Operation]:
    """An `operation_class` (on top of `base`, e.g. one that adds links) that lists
    `headers` among the operation's parameters."""

    base_post_init = getattr(base, "__post_init__", None)

    @dataclass
    class WithHeaders(base):  # type: ignore[valid-type, misc]
        def __post_init__(self) -> None:
            if base_post_init is not None:
                base_post_init(self)
            operation: Operation = self
            operation.parameters = [
                *(operation.parameters or []),
                *(header.parameter() for header in headers),
            ]

    return WithHeaders
