"""The GC spacing a bulk command runs under is its own: the process gets its own back."""

from __future__ import annotations

import gc

import pytest

from entrypoints.heap import YOUNG_GENERATION_THRESHOLD, young_collections_spaced


def test_the_young_generation_is_spaced_inside_the_block_and_restored_after() -> None:
    before = gc.get_threshold()
    with young_collections_spaced():
        assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), young_collections_spaced():
        raise RuntimeError("a failed import")
    assert gc.get_threshold() == before
