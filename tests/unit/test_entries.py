"""The cached value format, ``b"<version> <generation> <verified>\\n<json>"``: what is written reads
back, nothing else reads.

The head is three numbers in ASCII digits separated by one space (or, the first format, the
version alone: generation 0, never verified); the payload is everything after the first newline,
newlines included. A value that is not in one of these formats is no entry (``None``), never an
error and never a number read from another script's digits.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from stateway.tiers.redis_cache import Entry, decode_entry, encode_entry
from stateway_testing.strategies import unicode_numbers

versions = st.integers(min_value=0, max_value=10**18 - 1)
payloads = st.binary(max_size=256) | st.builds(lambda a, b: a + b"\n" + b, st.binary(), st.binary())


@given(versions, payloads, versions, versions)
@example(0, b"", 0, 0)
@example(10**18 - 1, b"\n", 10**18 - 1, 10**18 - 1)
@example(7, b'{"a": "x\ny"}\n\n', 1764590000000, 1764590012345)
@example(1, b"2\n3\n", 0, 5)
def test_entries_read_back_as_written(version: int, payload: bytes, generation: int, verified: int) -> None:
    raw = encode_entry(version, payload, generation, verified)
    assert raw.startswith(b"%d %d %d\n" % (version, generation, verified))
    assert decode_entry(raw) == Entry(version, payload, generation, verified)


@given(versions, payloads)
def test_an_entry_of_the_first_format_reads_as_never_verified(version: int, payload: bytes) -> None:
    assert decode_entry(b"%d\n%s" % (version, payload)) == Entry(version, payload, 0, 0)


@given(versions, versions, payloads)
def test_the_version_is_the_head_and_nothing_of_the_payload(a: int, b: int, payload: bytes) -> None:
    # A payload that itself looks like an entry does not change the version read.
    nested = encode_entry(b, payload, b, b)
    assert decode_entry(encode_entry(a, nested, a, a)) == Entry(a, nested, a, a)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"7",
        b"123{}",
        b"{}",
        b"\n",
        b"\n{}",
        b"x\n{}",
        b"7x\n{}",
        b"-1\n{}",
        b"-0\n{}",
        b"+1\n{}",
        b" 1\n{}",
        b"1 \n{}",
        b"1_0\n{}",
        b"0x1\n{}",
        b"1.0\n{}",
        b"1e3\n{}",
        b"\r\n{}",
        b"1\r\n{}",
        b"\t1\n{}",
        "\u0661\n{}".encode(),
        "\u0661\u0660\n{}".encode(),
        "\uff11\n{}".encode(),
        "\u00b2\n{}".encode(),
        "7\u0660\n{}".encode(),
        b"\xd9\xa1\n{}",
        b"\x00\n{}",
        b"1 2\n{}",
        b"1 2 3 4\n{}",
        b"1  2 3\n{}",
        b"1 2 3 \n{}",
        b"1 -2 3\n{}",
        b"1 2 x\n{}",
        "1 2 \u0663\n{}".encode(),
    ],
)
def test_values_not_in_the_format_are_no_entry(raw: bytes) -> None:
    assert decode_entry(raw) is None


@given(unicode_numbers, payloads)
def test_other_scripts_digits_are_no_version(head: str, payload: bytes) -> None:
    assert decode_entry(head.encode() + b"\n" + payload) is None


@given(st.binary(max_size=24).filter(lambda b: b"\n" not in b), payloads)
def test_a_head_that_is_not_ascii_digits_is_no_entry(head: bytes, payload: bytes) -> None:
    entry = decode_entry(head + b"\n" + payload)
    fields = head.split(b" ")
    if len(fields) in (1, 3) and all(f and all(48 <= byte <= 57 for byte in f) for f in fields):
        numbers = [int(f) for f in fields]
        assert entry == (
            Entry(numbers[0], payload) if len(numbers) == 1 else Entry(numbers[0], payload, *numbers[1:])
        )
    else:
        assert entry is None


@given(st.binary().filter(lambda b: b"\n" not in b))
def test_a_value_without_a_newline_is_no_entry(raw: bytes) -> None:
    assert decode_entry(raw) is None


@pytest.mark.parametrize("digits", [19, 4_301, 100_000])
def test_a_head_of_thousands_of_digits_is_no_entry(digits: int) -> None:
    assert decode_entry(b"9" * digits + b"\n{}") is None
    assert decode_entry(b"1 " + b"9" * digits + b" 2\n{}") is None
