"""What a CSV import stores, to the byte: the products, stock and outbox rows of
ImportProducts on SQLite, with a fixed clock, ids and correlation id.

The import's write path has shortcuts of its own (batched ids, outbox rows built in one
step, adapters/sql/bulk.py); the relay, the webhooks and the `orderly` commands read
these rows back, so the expected rows below were taken from the code before those
shortcuts and must not move.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection

from adapters.sql.database import SqlDatabase
from adapters.sql.tables import create_schema
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from adapters.system import FixedClock
from core.ports.correlation import correlation
from core.use_cases.catalog import ImportProducts, ProductRow


class CountingIds:
    """Ids in the order they are asked for, one at a time or as a lot."""

    def __init__(self) -> None:
        self.count = 0

    def new_id(self) -> str:
        self.count += 1
        return f"id-{self.count:04d}"

    def new_ids(self, count: int) -> list[str]:
        return [self.new_id() for _ in range(count)]

    def new_secret(self) -> str:
        return "secret"


def _rows(conn: Connection, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in conn.exec_driver_sql(sql)]


def test_an_import_and_a_reimport_store_these_rows(tmp_path: Path) -> None:
    database = SqlDatabase.from_url(f"sqlite:///{tmp_path / 'orderly.db'}")
    create_schema(database.engine)
    try:
        clock = FixedClock(datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC))
        importer = ImportProducts(
            SqlUnitOfWorkFactory(database, CountingIds(), clock), clock, "EUR"
        )
        first = [
            ProductRow(2, "MUG-01", "Coffee mug", 1250, 40, True),
            ProductRow(3, "PEN-1", 'Pen, blue "fine"', 150, 0, False),  # no stock: no event
            ProductRow(4, "TAG-1", "Étiquette ✓ 東京", 99, 7, True),
        ]
        again = [
            ProductRow(2, "MUG-01", "Coffee mug", 1300, 38, True),  # price and stock move
            ProductRow(3, "PEN-1", 'Pen, blue "fine"', 150, 0, False),  # unchanged
        ]
        with correlation("import-1"):
            assert importer(first).accepted == 3
            assert importer(again).accepted == 2
        with database.engine.connect() as conn:
            outbox = _rows(
                conn,
                "SELECT position, event_id, type, subject, occurred_at, correlation_id, "
                "schema_version, payload, created_at, claimed_until, sent_at, trace_context "
                "FROM outbox ORDER BY position",
            )
            products = _rows(conn, "SELECT * FROM products ORDER BY sku")
            stock = _rows(conn, "SELECT * FROM stock ORDER BY sku")
    finally:
        database.dispose()

    assert outbox == EXPECTED_OUTBOX
    assert products == EXPECTED_PRODUCTS
    assert stock == EXPECTED_STOCK


# Taken from the code before the import's shortcuts (see the module's docstring).
EXPECTED_OUTBOX = [
    (
        1,
        "id-0001",
        "ProductCreated",
        "MUG-01",
        "2026-03-04 05:06:07.891012",
        "import-1",
        1,
        '{"sku":"MUG-01","name":"Coffee mug","price":1250,"currency":"EUR","active":true}',
        "2026-03-04 05:06:07.891013",
        None,
        None,
        None,
    ),
    (
        2,
        "id-0002",
        "StockAdjusted",
        "MUG-01",
        "2026-03-04 05:06:07.891012",
        "import-1",
        1,
        '{"sku":"MUG-01","on_hand":40,"reserved":0,"delta":40,"reason":"import"}',
        "2026-03-04 05:06:07.891013",
        None,
        None,
        None,
    ),
    (
        3,
        "id-0003",
        "ProductCreated",
        "PEN-1",
        "2026-03-04 05:06:07.891012",
        "import-1",
        1,
        '{"sku":"PEN-1","name":"Pen, blue \\"fine\\"","price":150,"currency":"EUR","active":false}',
        "2026-03-04 05:06:07.891013",
        None,
        None,
        None,
    ),
    (
        4,
        "id-0004",
        "ProductCreated",
        "TAG-1",
        "2026-03-04 05:06:07.891012",
        "import-1",
        1,
        '{"sku":"TAG-1","name":"Étiquette ✓ 東京","price":99,"currency":"EUR","active":true}',
        "2026-03-04 05:06:07.891013",
        None,
        None,
        None,
    ),
    (
        5,
        "id-0005",
        "StockAdjusted",
        "TAG-1",
        "2026-03-04 05:06:07.891012",
        "import-1",
        1,
        '{"sku":"TAG-1","on_hand":7,"reserved":0,"delta":7,"reason":"import"}',
        "2026-03-04 05:06:07.891013",
        None,
        None,
        None,
    ),
    (
        6,
        "id-0006",
        "ProductUpdated",
        "MUG-01",
        "2026-03-04 05:06:07.891014",
        "import-1",
        1,
        '{"sku":"MUG-01","changes":{"price":1300}}',
        "2026-03-04 05:06:07.891015",
        None,
        None,
        None,
    ),
    (
        7,
        "id-0007",
        "StockAdjusted",
        "MUG-01",
        "2026-03-04 05:06:07.891014",
        "import-1",
        1,
        '{"sku":"MUG-01","on_hand":38,"reserved":0,"delta":-2,"reason":"import"}',
        "2026-03-04 05:06:07.891015",
        None,
        None,
        None,
    ),
]
EXPECTED_PRODUCTS = [
    (
        "MUG-01",
        "Coffee mug",
        1300,
        "EUR",
        1,
        2,
        "2026-03-04 05:06:07.891012",
        "2026-03-04 05:06:07.891014",
    ),
    (
        "PEN-1",
        'Pen, blue "fine"',
        150,
        "EUR",
        0,
        1,
        "2026-03-04 05:06:07.891012",
        "2026-03-04 05:06:07.891012",
    ),
    (
        "TAG-1",
        "Étiquette ✓ 東京",
        99,
        "EUR",
        1,
        1,
        "2026-03-04 05:06:07.891012",
        "2026-03-04 05:06:07.891012",
    ),
]
EXPECTED_STOCK = [("MUG-01", 38, 0, 3), ("PEN-1", 0, 0, 1), ("TAG-1", 7, 0, 2)]
