"""Optional headers read from the scope (entrypoints/http/header_params.py): the value,
the 422 Litestar would give, and the OpenAPI parameter Litestar would document."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.exceptions import ValidationException
from litestar.params import HeaderParameter
from litestar.testing import TestClient

from entrypoints.http.app import create_app
from entrypoints.http.controllers.params import IDEMPOTENCY_KEY, IF_MATCH, IF_NONE_MATCH
from entrypoints.http.header_params import HeaderParam
from tests.e2e.http_support import make_container

KEY = HeaderParam("X-Key", "a key", max_length=5, min_length=1, pattern="^[a-z]+$")


def _connection(*headers: tuple[bytes, bytes]) -> ASGIConnection[Any, Any, Any, Any]:
    return ASGIConnection({"type": "http", "headers": list(headers)})  # type: ignore[arg-type]


def test_an_absent_header_is_none_and_a_valid_one_its_value() -> None:
    assert KEY.read(_connection((b"host", b"x"))) is None
    assert KEY.read(_connection((b"x-key", b"abc"), (b"x-key", b"zz"))) == "abc"  # the first


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"abcdef", "Expected `str` of length <= 5"),
        (b"", "Expected `str` of length >= 1"),
        (b"AB", "Expected `str` matching regex '^[a-z]+$'"),
    ],
)
def test_an_invalid_header_is_a_validation_error_naming_it(value: bytes, message: str) -> None:
    with pytest.raises(ValidationException) as raised:
        KEY.read(_connection((b"x-key", value)))
    assert raised.value.extra == [{"key": "X-Key", "message": message, "source": "header"}]


def test_the_documented_parameters_are_the_ones_litestar_documents_for_declared_headers(
    tmp_path: Path,
) -> None:
    """The same constraints declared as Litestar header parameters give the very same
    OpenAPI parameter objects as ours, so reading from the scope changed no document."""
    from litestar import get

    declared: dict[str, Any] = {}
    for param in (IDEMPOTENCY_KEY, IF_NONE_MATCH, IF_MATCH):
        kind = Annotated[
            str | None,
            HeaderParameter(
                name=param.name,
                min_length=param.min_length,
                max_length=param.max_length,
                pattern=param.pattern,
                description=param.description,
            ),
        ]

        async def handler(value: kind = None) -> None:
            return None

        handler.__annotations__["value"] = kind
        route = get(f"/{param.name}")(handler)
        schema = Litestar([route]).openapi_schema.to_schema()
        (declared[param.name],) = schema["paths"][f"/{param.name}"]["get"]["parameters"]

    with TestClient(create_app(make_container("memory", tmp_path))) as client:
        paths = client.get("/schema/openapi.json").json()["paths"]
    ours = {
        "Idempotency-Key": paths["/v1/orders"]["post"]["parameters"],
        "If-None-Match": paths["/v1/orders/{order_id}"]["get"]["parameters"],
        "If-Match": paths["/v1/orders/{order_id}/cancel"]["post"]["parameters"],
    }
    for name, parameters in ours.items():
        assert [p for p in parameters if p["in"] == "header"] == [declared[name]]
