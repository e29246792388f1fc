"""The ids every adapter stamps: UUIDv7 (RFC 9562), one at a time or a unit of work's lot."""

from __future__ import annotations

import time
import uuid

import pytest

from adapters.system import UuidGenerator


def _check_v7(text: str, earliest_ms: int, latest_ms: int) -> None:
    parsed = uuid.UUID(text)
    assert str(parsed) == text  # canonical: lower case, 8-4-4-4-12
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert earliest_ms <= parsed.int >> 80 <= latest_ms  # 48 bits of Unix milliseconds


@pytest.mark.parametrize("count", [0, 1, 2, 2000])
def test_new_ids_are_as_many_version_7_uuids_of_now_all_different(count: int) -> None:
    ids = UuidGenerator()
    before = time.time_ns() // 1_000_000
    made = ids.new_ids(count)
    after = time.time_ns() // 1_000_000
    assert len(made) == count == len(set(made))
    for text in made:
        _check_v7(text, before, after)


def test_new_id_and_new_ids_make_the_same_shape_and_random_bits_vary() -> None:
    ids = UuidGenerator()
    before = time.time_ns() // 1_000_000
    one = [ids.new_id() for _ in range(200)]
    lot = ids.new_ids(200)
    after = time.time_ns() // 1_000_000
    for text in one + lot:
        _check_v7(text, before, after)
    # The 74 random bits (rand_a, rand_b) are not constant in either: each of them is set
    # in some id and clear in another.
    rand_mask = (0xFFF << 64) | ((1 << 62) - 1)
    for group in (one, lot):
        values = [uuid.UUID(text).int & rand_mask for text in group]
        ored, anded = 0, rand_mask
        for value in values:
            ored |= value
            anded &= value
        assert ored == rand_mask
        assert anded == 0


def test_random_bits_are_never_handed_out_twice_across_threads_or_a_fork() -> None:
    """The random source is read a page at a time per thread (adapters/system.py): ids
    made in several threads, and in a child forked with a half-used page, all differ."""
    import os
    import threading

    ids = UuidGenerator()
    made: list[str] = [ids.new_id()]  # the parent's page is now in use
    lock = threading.Lock()

    def work() -> None:
        lot = [ids.new_id() for _ in range(1000)] + ids.new_ids(500)
        with lock:
            made.extend(lot)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, "\n".join(ids.new_id() for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split("\n")
    os.waitpid(pid, 0)
    made += [ids.new_id() for _ in range(50)]
    # Same millisecond or not, no two share their random bits.
    rand_mask = (0xFFF << 64) | ((1 << 62) - 1)
    randoms = [uuid.UUID(text).int & rand_mask for text in made + child]
    assert len(randoms) == 1 + 4 * 1500 + 100 == len(set(randoms))


def test_random_hex_gives_fresh_hex_digits_of_the_asked_length() -> None:
    """The HTTP edge's request ids (adapters/system.py `random_hex`): the per-thread
    page's bytes as hex, never the same twice."""
    from adapters.system import random_hex

    made = [random_hex(16) for _ in range(2000)]  # crosses several 4 KiB pages
    assert all(len(text) == 32 and int(text, 16) >= 0 for text in made)
    assert len(set(made)) == len(made)
    assert len(random_hex(5)) == 10
