"""The SQL adapter turns a driver's refusal of bad input into the domain's ValidationError.

The entrypoints validate first, so these values should never get this far; this proves
the second line of defence: should one slip through (a new code path, a forgotten check),
the caller gets a 4xx-class domain error, never a raw DataError or UnicodeEncodeError.
PostgreSQL refuses NUL in text and JSONB and numbers past a column's range; both drivers
refuse to encode lone surrogates; sqlite3 refuses ints past 64 bits.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.sql import migrate
from adapters.system import FixedClock
from core.domain.errors import ValidationError
from core.domain.money import Money
from core.use_cases.catalog import CreateProductCommand
from entrypoints.container import Container, build_container
from entrypoints.settings import Settings


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def container(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock
) -> Iterator[Container]:
    url = (
        request.getfixturevalue("postgres_url")
        if request.param == "postgres"
        else f"sqlite:///{tmp_path / 'orderly.db'}"
    )
    container = build_container(Settings(database_url=url))
    container.clock.override(clock)
    migrate.upgrade(container.database(), "head")
    container.create_product()(CreateProductCommand("MUG-01", "Mug", 100, True, 5))
    yield container
    container.database().dispose()


@pytest.mark.parametrize("bad", ["a\x00b", "\ud800"])
def test_a_read_with_text_the_driver_refuses_is_a_validation_error(
    container: Container, bad: str
) -> None:
    queries = container.queries()
    if container.database().is_sqlite and "\x00" in bad:
        assert queries.get_order(bad) is None  # SQLite stores and compares NUL: not found
        return
    with pytest.raises(ValidationError, match="refused"):
        queries.get_order(bad)


@pytest.mark.parametrize("bad", ["new\x00name", "new\udc00name"])
def test_a_write_with_text_the_driver_refuses_is_a_validation_error(
    container: Container, bad: str
) -> None:
    """Bypassing the aggregate's rules on purpose (plain attribute assignment)."""
    is_sqlite = container.database().is_sqlite
    try:
        with container.uow_factory()() as uow:
            product = uow.products.get("MUG-01")
            assert product is not None
            product.name = bad
            uow.products.save(product)
            uow.commit()
    except ValidationError as exc:
        assert "refused" in exc.detail
    else:
        assert is_sqlite and "\x00" in bad  # only SQLite stores NUL
    with container.uow_factory()() as uow:
        product = uow.products.get("MUG-01")
        assert product is not None
        assert product.name in {"Mug", bad}


def test_a_number_past_its_column_is_a_validation_error(container: Container) -> None:
    is_sqlite = container.database().is_sqlite
    with pytest.raises(ValidationError), container.uow_factory()() as uow:
        product = uow.products.get("MUG-01")
        assert product is not None
        # Past 64 bits for sqlite3; past PostgreSQL's bigint too.
        product.price = Money(2**64 if is_sqlite else 2**63, product.price.currency)
        uow.products.save(product)
        uow.commit()
    with container.uow_factory()() as uow:
        product = uow.products.get("MUG-01")
        assert product is not None and product.price.amount == 100
