"""Schemathesis over every operation of the app's own OpenAPI document.

Valid (positive) and invalid (negative) inputs, on memory, SQLite and PostgreSQL; every
response must be a non-5xx whose status, content type, headers and body conform
to the document. CI runs a bounded number of examples per operation and mode
(ORDERLY_FUZZ_EXAMPLES, default 25); raise it locally for a longer hunt.

The operations are driven with Hypothesis directly (`operation.as_strategy`)
rather than `schema.parametrize()`, whose lazy fixture loader does not work
with pytest 9.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Ok

from core.use_cases.catalog import CreateProductCommand
from entrypoints.http.app import create_app
from tests.e2e.http_support import bearer, make_container

EXAMPLES = int(os.environ.get("ORDERLY_FUZZ_EXAMPLES", "25"))
MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
EXPECTED_OPERATIONS = 24  # 16, plus the 8 of /v1/webhooks


def _fuzz(operation: Any, mode: schemathesis.GenerationMode, headers: dict[str, str]) -> int:
    """Run one operation in one mode; returns how many requests were made."""
    calls = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        case.call_and_validate(headers=headers)

    run()
    return calls


@pytest.mark.parametrize(
    "storage", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_every_operation_conforms_and_never_answers_5xx(
    storage: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # PostgreSQL refuses what SQLite stores (NUL in text, numbers past a column): fuzz it too.
    url = request.getfixturevalue("postgres_url") if storage == "postgres" else storage
    container = make_container(url, tmp_path, rate_limit_per_minute=10_000_000)
    keys = {
        "admin": container.create_principal()("fuzz-admin", "admin").api_key,
        "customer": container.create_principal()("fuzz-customer", "customer").api_key,
    }
    # A few real rows so that valid inputs sometimes hit something that exists.
    for sku in ("MUG-01", "TEA-02", "AB"):
        container.create_product()(CreateProductCommand(sku, f"Product {sku}", 500, True, 10**6))
    app = create_app(container)
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    # A schema-valid request may still break a domain rule, which the API answers with
    # 422 by contract (an unknown SKU in an order, a cursor it never issued, a reused
    # idempotency key): no schema can express those, so 422 counts as accepted handling.
    acceptance = schema.config.checks.positive_data_acceptance
    acceptance.expected_statuses = [*acceptance.expected_statuses, "422"]
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) == EXPECTED_OPERATIONS
    calls = 0
    for operation in operations:
        # Customers place orders; admins may do everything else.
        raw = operation.definition.raw
        role = "customer" if raw["operationId"] == "placeOrder" else "admin"
        has_inputs = bool(raw.get("parameters")) or "requestBody" in raw
        for mode in MODES if has_inputs else MODES[:1]:  # nothing to make invalid
            calls += _fuzz(operation, mode, bearer(keys[role]))
    print(f"schemathesis: {calls} requests over {len(operations)} operations on {storage}")
    assert calls >= len(operations) * len(MODES)


def test_the_document_links_created_products_and_placed_orders_to_what_follows(
    tmp_path: Path,
) -> None:
    """The links a client (or schemathesis' stateful mode) follows: a created product to
    get, stock, adjust and order it; a placed order to get, its events, cancel and ship."""
    app = create_app(make_container("memory", tmp_path))
    document = app.openapi_schema.to_schema()
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    created = document["paths"]["/v1/products"]["post"]["responses"]["201"]["links"]
    placed = document["paths"]["/v1/orders"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in created.values()} == {
        "getProduct",
        "getStock",
        "adjustStock",
        "placeOrder",
    }
    assert {link["operationId"] for link in placed.values()} == {
        "getOrder",
        "listOrderEvents",
        "cancelOrder",
        "shipOrder",
    }
    assert all(link["operationId"] in operations for link in [*created.values(), *placed.values()])
    assert placed["GetOrder"]["parameters"] == {"order_id": "$response.body#/id"}
    assert created["PlaceOrder"]["requestBody"]["lines"][0]["sku"] == "$response.body#/sku"
