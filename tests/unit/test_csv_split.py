"""The CSV import's line splitter: its `str.split` shortcut must give what the csv module
gives (the same fields, or the same refusal) for every line the file reader can yield."""

from __future__ import annotations

import csv

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entrypoints.cli.csv_import import _split

# Every character the csv module treats specially, and some it does not.
_CHARS = st.sampled_from([",", '"', "\r", " ", "a", "Z", "9", "-", "é", "東", "\t", ";", "'"])
# A physical line as the import reads it: no line feed inside, maybe one at the end.
_LINES = st.builds(
    lambda body, end: body + end,
    st.text(_CHARS, max_size=30),
    st.sampled_from(["", "\n", "\r\n"]),
)


def _by_csv(text: str) -> list[str] | type[csv.Error]:
    try:
        return next(csv.reader((text,), strict=True), [])
    except csv.Error:
        return csv.Error


def _by_split(text: str) -> list[str] | type[csv.Error]:
    try:
        return _split(text)
    except csv.Error:
        return csv.Error


@given(_LINES)
def test_split_agrees_with_the_csv_module(text: str) -> None:
    assert _by_split(text) == _by_csv(text)


@pytest.mark.parametrize(
    "text",
    [
        "SKU-1,Name,100,5,true\n",
        "SKU-1,Name,100,5\r\n",
        "SKU-1,Name,100,5",
        "a,,b,\n",
        ",\n",
        "a\rb,c\n",  # a carriage return inside a line: csv refuses it
        "a,b\r",
        '"SKU-1","Name, with comma",100,5\n',
        'a,b"c,d\n',  # a stray quote: strict csv refuses it
        "\n",
        "\r\n",
        "",
    ],
)
def test_split_agrees_with_the_csv_module_on_known_shapes(text: str) -> None:
    assert _by_split(text) == _by_csv(text)
