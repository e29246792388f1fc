"""Stream a product CSV into the catalogue in batches, through the core's ImportProducts.

The file is read line by line in binary and each line decoded on its own, so
a line with bytes that are not UTF-8 is rejected alone and the rest still
imports. A record is one line: quoted fields may hold commas and doubled
quotes but no line breaks, so a stray quote spoils one row, not the rest of
the file. Parsing problems (missing column, non-integer) are rejected here
with their line number; domain rules (SKU format, negative price, repeated
SKU) are judged by ImportProducts, which carries `seen` across batches.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from core.use_cases.catalog import ImportReport, ProductRow
from entrypoints.cli.params import MAX_AMOUNT, MAX_QUANTITY, parse_integer

REQUIRED = ("sku", "name", "price", "on_hand")
OPTIONAL = ("active",)
EXPECTED = "sku,name,price,on_hand[,active]"
DEFAULT_BATCH = 1000

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}

Importer = Callable[[Sequence[ProductRow], set[str]], ImportReport]


class ImportFileError(Exception):
    """The file as a whole cannot be imported (no or bad header); nothing was written."""


@dataclass
class ImportSummary:
    accepted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    lines: int = 0


class ImportStopped(Exception):
    """A batch failed for a reason outside the rows (e.g. the database went away).

    `summary` holds what the batches before it committed.
    """

    def __init__(self, summary: ImportSummary, first_line: int, cause: Exception) -> None:
        super().__init__(str(cause))
        self.summary = summary
        self.first_line = first_line
        self.cause = cause


@dataclass(frozen=True)
class _Rejected:
    line: int
    reason: str


class _Lines:
    """Physical lines of a binary stream, decoded one at a time; counts bytes for progress."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.bytes_read = 0

    def __iter__(self) -> Iterator[tuple[int, str | None, str]]:
        """Yields (line number, text or None if undecodable, reason if undecodable)."""
        for number, raw in enumerate(self._stream, start=1):
            self.bytes_read += len(raw)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield (
                    number,
                    None,
                    f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                    "save the file as UTF-8",
                )
                continue
            if number == 1:
                text = text.removeprefix("\ufeff")  # a UTF-8 byte order mark
            yield number, text, ""


def _split(text: str) -> list[str]:
    # A line with no quote and no carriage return inside it is its commas, whatever the
    # csv module makes of it; `str.split` does that without a reader per line (a fifth of
    # the CLI's parsing). tests/unit/test_csv_split.py checks the two agree.
    body = text[:-1] if text.endswith("\n") else text
    if body.endswith("\r"):
        body = body[:-1]
    if body and '"' not in body and "\r" not in body:
        return body.split(",")
    return next(csv.reader((text,), strict=True), [])


def _header(number: int, text: str | None) -> dict[str, int]:
    if text is None:
        raise ImportFileError(f"line {number} (the header) is not valid UTF-8; save as UTF-8")
    try:
        names = [name.strip().lower() for name in _split(text)]
    except csv.Error as exc:
        raise ImportFileError(f"the header line is not valid CSV ({exc})") from None
    columns: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in columns:
            raise ImportFileError(f"column {name!r} appears twice in the header")
        columns[name] = index
    missing = [name for name in REQUIRED if name not in columns]
    unknown = [name for name in columns if name not in REQUIRED + OPTIONAL]
    if missing or unknown:
        problems = []
        if missing:
            problems.append("missing " + ", ".join(missing))
        if unknown:
            problems.append("unknown " + ", ".join(repr(n) for n in unknown))
        raise ImportFileError(
            f"the first line must be the header {EXPECTED} ({'; '.join(problems)})"
        )
    return columns


def _parse_active(raw: str) -> bool:
    value = raw.strip().lower()
    if not value or value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"active {raw.strip()!r} must be true or false")


def _row(number: int, text: str, columns: dict[str, int]) -> ProductRow | _Rejected | None:
    if not text.strip():
        return None  # blank lines are allowed (e.g. at the end of the file)
    if "\x00" in text:
        return _Rejected(number, "contains a NUL byte")
    try:
        fields = _split(text)
    except csv.Error as exc:
        return _Rejected(
            number, f"malformed CSV ({exc}); quote a field with commas as \"a, b\" and double "
            "any quote inside it"
        )  # fmt: skip
    # Header indices run 0..len(columns)-1: a row that has every header field has every
    # required one (checked once per row instead of four times).
    if len(fields) < len(columns):
        missing = [name for name in REQUIRED if columns[name] >= len(fields)]
        if missing:
            return _Rejected(number, f"missing column {', '.join(missing)} (expected {EXPECTED})")
    if len(fields) > len(columns):
        return _Rejected(
            number,
            f"{len(fields)} fields but the header has {len(columns)}; "
            "quote names that contain commas",
        )

    # The required columns are all there (checked above); `active` may be absent.
    sku = fields[columns["sku"]].strip()
    name = fields[columns["name"]].strip()
    if not sku:
        return _Rejected(number, "missing value for sku")
    if not name:
        return _Rejected(number, "missing value for name")
    active_index = columns.get("active")
    try:
        # Sign checks are left to the core (it rejects a negative price or count).
        price = parse_integer(
            fields[columns["price"]], "price", -MAX_AMOUNT, MAX_AMOUNT, minor_units=True
        )
        on_hand = parse_integer(fields[columns["on_hand"]], "on_hand", -MAX_QUANTITY, MAX_QUANTITY)
        active = _parse_active(
            fields[active_index] if active_index is not None and active_index < len(fields) else ""
        )
    except ValueError as exc:
        return _Rejected(number, str(exc))
    return ProductRow(number, sku, name, price, on_hand, active)


def import_csv(
    stream: BinaryIO,
    importer: Importer,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Import `stream`; each batch of `batch_size` rows commits on its own.

    `progress(bytes_read, lines_read)` is called after each batch. Raises
    ImportFileError before any write when the header is wrong, ImportStopped
    when a batch fails for a reason outside the rows.
    """
    lines = _Lines(stream)
    summary = ImportSummary()
    seen: set[str] = set()
    columns: dict[str, int] | None = None
    batch: list[ProductRow] = []

    def flush() -> None:
        if not batch:
            return
        try:
            report = importer(batch, seen)
        except Exception as exc:
            raise ImportStopped(summary, batch[0].line, exc) from exc
        summary.accepted += report.accepted
        summary.rejected.extend(report.rejected)
        batch.clear()
        if progress is not None:
            progress(lines.bytes_read, summary.lines)

    for number, text, undecodable in lines:
        summary.lines = number
        if columns is None:
            if text is not None and not text.strip():
                continue
            columns = _header(number, text)
            continue
        if text is None:
            summary.rejected.append((number, undecodable))
            continue
        parsed = _row(number, text, columns)
        if isinstance(parsed, _Rejected):
            summary.rejected.append((parsed.line, parsed.reason))
        elif parsed is not None:
            batch.append(parsed)
            if len(batch) >= batch_size:
                flush()
    if columns is None:
        raise ImportFileError(f"the file is empty: its first line must be the header {EXPECTED}")
    flush()
    if progress is not None:
        progress(lines.bytes_read, summary.lines)
    summary.rejected.sort()
    return summary
