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


LINKED = [
    "createProduct",
    "getProduct",
    "getStock",
    "adjustStock",
    "placeOrder",
    "getOrder",
    "listOrderEvents",
    "cancelOrder",
    "shipOrder",
]


@pytest.mark.parametrize(
    "storage", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_stateful_chains_follow_the_documented_links_and_never_answer_5xx(
    storage: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Schemathesis walks the document's links (a created product is fetched, stocked
    and ordered; a placed order is fetched, cancelled, shipped and followed), feeding
    each step the values the previous answer returned."""
    url = request.getfixturevalue("postgres_url") if storage == "postgres" else storage
    container = make_container(url, tmp_path, rate_limit_per_minute=10_000_000)
    keys = {
        "admin": container.create_principal()("fuzz-admin", "admin").api_key,
        "customer": container.create_principal()("fuzz-customer", "customer").api_key,
    }
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", create_app(container))
    acceptance = schema.config.checks.positive_data_acceptance
    acceptance.expected_statuses = [*acceptance.expected_statuses, "422"]
    machine = schema.include(operation_id=LINKED).as_state_machine()
    steps: list[tuple[str, int]] = []

    class Chains(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            operation = case.operation.definition.raw["operationId"]
            role = "customer" if operation == "placeOrder" else "admin"
            return {"headers": bearer(keys[role])}

        def after_call(self, response: Any, case: Any) -> None:
            steps.append((case.operation.definition.raw["operationId"], response.status_code))
            assert response.status_code < 500, (case.operation.label, response.text)

    Chains.run(
        settings=settings(
            max_examples=EXAMPLES * 2,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    created = [n for n, (op, status) in enumerate(steps) if (op, status) == ("createProduct", 201)]
    followed = {steps[n + 1][0] for n in created if n + 1 < len(steps) and steps[n + 1][1] != 401}
    assert created and followed & {"getProduct", "getStock", "adjustStock", "placeOrder"}, steps
