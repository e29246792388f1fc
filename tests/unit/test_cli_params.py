"""The CLI's integer parsing (arguments and CSV cells): only ASCII digits, with a sign."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entrypoints.cli.params import parse_integer

_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")


# Digits of other scripts: Arabic-Indic three, superscript two, fullwidth one, Roman twelve.
_OTHER_DIGITS = ["\u0663", "\u00b2", "\uff11", "\u216b"]


@given(st.text(st.sampled_from([*"0123456789+-., \t", *_OTHER_DIGITS]), max_size=8))
def test_a_value_is_an_integer_exactly_when_it_is_ascii_digits_with_a_sign(text: str) -> None:
    raw = text.strip()
    try:
        value: int | None = parse_integer(text, "n", -(10**9), 10**9)
    except ValueError:
        value = None
    if raw and _ASCII_INTEGER.fullmatch(raw) and abs(int(raw)) <= 10**9:
        assert value == int(raw)
    else:
        assert value is None


@pytest.mark.parametrize("text", ["\u0663", "12\u00b2", "\uff11\uff12", "1_000", "0x10", " "])
def test_digits_of_other_scripts_and_python_literals_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_integer(text, "price", 0, 10**12)
