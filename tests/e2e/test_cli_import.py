"""`orderly products import`: streamed, batched, every bad row rejected alone with its line."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from dependency_injector import providers

from adapters.system import FixedClock
from core.ports.errors import DependencyUnavailable
from core.use_cases.catalog import ImportReport, ProductRow
from tests.e2e.cli_harness import STORAGES, Cli, close, customer, make_container


@pytest.fixture(params=STORAGES)
def cli(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Cli]:
    container = make_container(request.param, tmp_path, clock)
    yield Cli(container)
    close(container)


def _write(tmp_path: Path, content: bytes, name: str = "products.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


MALFORMED = b"".join(
    [
        b"\xef\xbb\xbfsku,name,price,on_hand,active\r\n",  # 1: header, with a UTF-8 BOM
        b"MUG-01,Coffee mug,1250,40,true\r\n",  # 2: good
        b"bad sku,Broken,100,1\r\n",  # 3: bad SKU
        b"TEE-1,T-shirt,-5,3\r\n",  # 4: negative price
        b"CAP-1,Cap,700\r\n",  # 5: missing column
        b"MUG-01,Mug again,1300,2\r\n",  # 6: duplicate SKU within the file
        b"SOCK-1,Sock \xff\xfe,300,5\r\n",  # 7: not UTF-8
        b"\r\n",  # 8: blank, skipped
        b'"PEN-1","Pen, blue ""fine""",150,12,no\r\n',  # 9: good, quoted, inactive
        b"HAT-1,Hat,12.50,1\r\n",  # 10: decimal price
        b"BAG-1,Bag,900,many\r\n",  # 11: non-integer on_hand
        b"BOX-1,Box,100,-2\r\n",  # 12: negative on_hand
        b'CUP-1,"Cup,200,3\r\n',  # 13: unbalanced quote
        b"JAR-1,Jar,100,1,maybe\r\n",  # 14: bad active
        b"BOWL-1,,100,1\r\n",  # 15: empty name
        b"LID-1,Lid,100,1,true,extra\r\n",  # 16: too many fields
        "TAG-1,Étiquette ✓,99,0\r\n".encode(),  # 17: good, non-ASCII UTF-8
    ]
)

EXPECTED_REJECTIONS = {
    3: "invalid SKU 'bad sku'",
    4: "invalid price -5",
    5: "missing column on_hand",
    6: "SKU MUG-01 appears earlier in the file",
    7: "not valid UTF-8 (byte 0xff at column 13)",
    10: "price '12.50' is not in minor units",
    11: "on_hand 'many' is not an integer",
    12: "invalid on_hand -2: must be >= 0",
    13: "malformed CSV",
    14: "active 'maybe' must be true or false",
    15: "missing value for name",
    16: "6 fields but the header has 5",
}


def test_malformed_rows_are_rejected_alone_and_good_rows_all_land(cli: Cli, tmp_path: Path) -> None:
    path = _write(tmp_path, MALFORMED)
    result = cli("products", "import", str(path), "--batch-size", "2")
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    out = result.stdout.splitlines()
    assert out[0] == "Imported products.csv: 3 rows accepted, 12 rejected."
    assert out[1] == "Rejected rows:"
    assert [int(line.split()[1].rstrip(":")) for line in out[2:]] == sorted(EXPECTED_REJECTIONS)
    for line, reason in zip(out[2:], sorted(EXPECTED_REJECTIONS.items()), strict=True):
        assert line.startswith(f"  line {reason[0]}: {reason[1]}"), line
    assert result.stderr == (
        "Error: 12 of 15 rows were rejected (listed with their line numbers); fix them and "
        "import products.csv again (accepted rows are updated, not duplicated)\n"
    )

    products = {p["sku"]: p for p in cli.json("products", "list")}
    assert sorted(products) == ["MUG-01", "PEN-1", "TAG-1"]
    assert (products["MUG-01"]["name"], products["MUG-01"]["price"]) == ("Coffee mug", 1250)
    assert products["PEN-1"]["name"] == 'Pen, blue "fine"' and products["PEN-1"]["active"] is False
    assert products["TAG-1"]["name"] == "Étiquette ✓"
    assert cli.json("stock", "show", "MUG-01")["on_hand"] == 40
    assert cli.json("stock", "show", "PEN-1")["on_hand"] == 12


def test_json_report(cli: Cli, tmp_path: Path) -> None:
    path = _write(tmp_path, MALFORMED)
    result = cli("products", "import", str(path), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert set(report) == {"file", "accepted", "rejected"}
    assert report["file"] == str(path) and report["accepted"] == 3
    assert [r["line"] for r in report["rejected"]] == sorted(EXPECTED_REJECTIONS)
    assert set(report["rejected"][0]) == {"line", "reason"}


def test_a_clean_file_exits_0_and_reimporting_updates_instead_of_duplicating(
    cli: Cli, tmp_path: Path
) -> None:
    rows = "".join(f"P-{n:03d},Product {n},{100 + n},{n}\n" for n in range(25))
    path = _write(tmp_path, ("sku,name,price,on_hand\n" + rows).encode())
    out = cli.ok("products", "import", str(path), "--batch-size", "10")
    assert out == "Imported products.csv: 25 rows accepted, 0 rejected.\n"
    first = cli.json("products", "list")
    assert len(first) == 25

    # The same file again: nothing changes (not even versions).
    cli.ok("products", "import", str(path), "--batch-size", "10")
    assert cli.json("products", "list") == first

    # An edited file updates the products it names, in place.
    changed = rows.replace("P-007,Product 7,107,7", "P-007,Renamed,999,70")
    _write(tmp_path, ("sku,name,price,on_hand,active\n" + changed + "NEW-1,New,1,1,\n").encode())
    cli.ok("products", "import", str(path))
    after = {p["sku"]: p for p in cli.json("products", "list")}
    assert len(after) == 26
    assert (after["P-007"]["name"], after["P-007"]["price"], after["P-007"]["version"]) == (
        "Renamed",
        999,
        2,
    )
    assert cli.json("stock", "show", "P-007")["on_hand"] == 70
    assert after["NEW-1"]["active"] is True


def test_duplicates_are_caught_across_batches(cli: Cli, tmp_path: Path) -> None:
    rows = "".join(f"P-{n:03d},Product {n},1,1\n" for n in range(5)) + "P-001,Again,2,2\n"
    path = _write(tmp_path, ("sku,name,price,on_hand\n" + rows).encode())
    result = cli("products", "import", str(path), "--batch-size", "2", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["accepted"] == 5
    assert report["rejected"] == [{"line": 7, "reason": "SKU P-001 appears earlier in the file"}]
    assert cli.json("products", "list")[1]["name"] == "Product 1"


def test_an_update_below_reserved_stock_is_rejected_alone(cli: Cli, tmp_path: Path) -> None:
    cli.ok("products", "add", "MUG-01", "Coffee mug", "1250", "--on-hand", "10")
    cli.place_order(customer(cli, "alice"), ("MUG-01", 6))
    path = _write(tmp_path, b"sku,name,price,on_hand\nMUG-01,Mug,1250,5\nTEE-1,Tee,10,1\n")
    result = cli("products", "import", str(path), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["accepted"] == 1
    [(line, reason)] = [(r["line"], r["reason"]) for r in report["rejected"]]
    assert line == 2 and "6 are reserved" in reason
    assert cli.json("stock", "show", "MUG-01")["on_hand"] == 10
    assert cli.json("products", "list")[0]["name"] == "Coffee mug"  # nothing half-applied
    assert cli.json("stock", "show", "TEE-1")["on_hand"] == 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"sku,name,price\nA1,x,1\n", "(missing on_hand)"),
        (b"MUG-01,Mug,100,1\n", "missing sku, name, price, on_hand"),
        (b"sku,name,price,on_hand,colour\n", "(unknown 'colour')"),
        (b"sku,name,price,on_hand,sku\n", "column 'sku' appears twice"),
        (b"sku,n\xe4me,price,on_hand\n", "line 1 (the header) is not valid UTF-8"),
    ],
)
def test_a_bad_header_imports_nothing(
    cli: Cli, tmp_path: Path, content: bytes, expected: str
) -> None:
    path = _write(tmp_path, content + b"OK-1,Fine,1,1\n")
    if not content:
        path = _write(tmp_path, b"")
    message = cli.refused("products", "import", str(path))
    assert message.startswith(f"{path}: ") and expected in message
    assert message.endswith("; nothing was imported")
    assert cli.json("products", "list") == []


def test_a_missing_file_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    assert "does not exist" in cli.bad_usage("products", "import", str(tmp_path / "nope.csv"))
    assert "is a directory" in cli.bad_usage("products", "import", str(tmp_path))


def test_progress_bar_only_on_a_terminal(cli: Cli, tmp_path: Path) -> None:
    path = _write(tmp_path, b"sku,name,price,on_hand\nA1,Thing,1,1\n")
    plain = cli("products", "import", str(path))
    assert plain.exit_code == 0 and plain.stderr == ""
    # rich treats FORCE_COLOR as "this is a terminal": the bar is drawn on stderr.
    terminal = cli("products", "import", str(path), env={"FORCE_COLOR": "1"})
    assert terminal.exit_code == 0, terminal.output
    assert "importing" in terminal.stderr and "36/36 bytes" in terminal.stderr
    assert terminal.stdout == "Imported products.csv: 1 row accepted, 0 rejected.\n"


def test_a_database_failure_stops_with_what_was_saved(cli: Cli, tmp_path: Path) -> None:
    real = cli.container.import_products()
    calls = 0

    def failing_second_batch(rows: Sequence[ProductRow], seen: set[str]) -> ImportReport:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise DependencyUnavailable("database", "disk I/O error")
        return real(rows, seen)

    rows = "".join(f"P-{n:03d},Product {n},1,1\n" for n in range(5))
    path = _write(tmp_path, ("sku,name,price,on_hand\n" + rows).encode())
    with cli.container.import_products.override(providers.Object(failing_second_batch)):
        result = cli("products", "import", str(path), "--batch-size", "2")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stdout == "Imported products.csv: 2 rows accepted, 0 rejected.\n"
    assert result.stderr == (
        "Error: import stopped at line 4: database unavailable: disk I/O error (check "
        "ORDERLY_DATABASE_URL); 2 rows before it were saved; fix the cause and run the same "
        "file again (saved rows are updated, not duplicated)\n"
    )
    assert [p["sku"] for p in cli.json("products", "list")] == ["P-000", "P-001"]
    # Once the cause is fixed, the same file completes the job.
    assert "5 rows accepted" in cli.ok("products", "import", str(path), "--batch-size", "2")
    assert len(cli.json("products", "list")) == 5
