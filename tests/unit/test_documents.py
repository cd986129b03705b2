from __future__ import annotations

import pytest

from stateway.documents import MAX_DEPTH, check_document, encoded_within
from stateway.errors import InvalidState, PayloadTooLarge


def nested(depth: int) -> dict[str, object]:
    doc: dict[str, object] = {}
    for _ in range(depth - 1):
        doc = {"a": doc}
    return doc


@pytest.mark.parametrize(
    "bad",
    [
        {"$set": 1},
        {"a": {"b.c": 1}},
        {"a": [{"$where": "x"}]},
        {"a\x00b": 1},
        {"big": 2**63},
        {"small": -(2**63) - 1},
        nested(MAX_DEPTH + 1),
        {"a": [[[[[[[[[[{"$x": 1}]]]]]]]]]]},
        {"s": {1, 2}},
        {"inf": float("inf")},
        {"nan": float("nan")},
        {"huge": 1e300},
    ],
)
def test_unstorable_documents_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidState):
        check_document(bad)


@pytest.mark.parametrize(
    "good",
    [
        {},
        {"a": [], "b": {}, "n": None, "t": True, "f": 1.5, "i": 2**63 - 1, "neg": -(2**63)},
        {"unicode": "héllo ✓", "nul in a value": "a\x00b"},
        {"floats": [1.5, 1e15, -2.5e-300, 9.2e18]},
        nested(MAX_DEPTH),
    ],
)
def test_storable_documents_pass(good: object) -> None:
    check_document(good)


def test_size_is_compact_utf8_json() -> None:
    payload = encoded_within({"k": "é"}, 100)
    assert payload == '{"k":"é"}'.encode()
    encoded_within({"k": "x" * 10}, len(b'{"k":"xxxxxxxxxx"}'))
    with pytest.raises(PayloadTooLarge):
        encoded_within({"k": "x" * 10}, len(b'{"k":"xxxxxxxxxx"}') - 1)
