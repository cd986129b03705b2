"""The Python id rules against the vectors shared with the TypeScript client.

``tests/vectors/ids.json`` is read by this module and by the frontend's unit tests,
so the two implementations of the id rules cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stateway.errors import InvalidId, InvalidKey
from stateway.ids import SessionRef, namespace_key, parse_session_id, validate_id, validate_key

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "ids.json").read_text(encoding="utf-8")
)
ID_FIELDS = ("client_id", "user_id", "app_id", "project_id")


def _label(case: dict[str, Any]) -> str:
    return f"{case['why']}: {case['value']!r}"[:60]


@pytest.mark.parametrize("case", VECTORS["sessions"], ids=lambda c: c["session_id"][:60])
def test_session_ids_are_built_as_the_vectors_say(case: dict[str, str]) -> None:
    ref = SessionRef.of(*(case[name] for name in ID_FIELDS))
    assert ref.session_id == case["session_id"]
    assert ref.namespace == case["namespace"]
    assert namespace_key(case["client_id"], case["user_id"]) == case["namespace"]


@pytest.mark.parametrize("case", VECTORS["sessions"], ids=lambda c: c["session_id"][:60])
def test_session_ids_parse_back_to_their_ids(case: dict[str, str]) -> None:
    ref = parse_session_id(case["session_id"])
    assert (ref.client_id, ref.user_id, ref.app_id, ref.project_id) == tuple(case[name] for name in ID_FIELDS)


@pytest.mark.parametrize("value", VECTORS["valid_ids"], ids=lambda v: repr(v)[:40])
def test_valid_ids_are_accepted(value: str) -> None:
    assert validate_id("client_id", value) == value
    for name in ID_FIELDS:
        ids = dict.fromkeys(ID_FIELDS, "ok")
        ids[name] = value
        assert getattr(SessionRef.of(**ids), name) == value


@pytest.mark.parametrize("case", VECTORS["invalid_ids"], ids=_label)
def test_invalid_ids_are_rejected(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidId) as caught:
        validate_id("app_id", case["value"])
    assert caught.value.status == 400
    assert caught.value.code == "invalid_id"
    # Whichever of the four ids it is, and through every builder.
    for name in ID_FIELDS:
        ids: dict[str, Any] = dict.fromkeys(ID_FIELDS, "ok")
        ids[name] = case["value"]
        with pytest.raises(InvalidId):
            SessionRef.of(**ids)
    with pytest.raises(InvalidId):
        namespace_key(case["value"], "ok")
    with pytest.raises(InvalidId):
        namespace_key("ok", case["value"])


@pytest.mark.parametrize("value", VECTORS["valid_keys"], ids=lambda v: repr(v)[:40])
def test_valid_keys_are_accepted(value: str) -> None:
    assert validate_key(value) == value


@pytest.mark.parametrize("case", VECTORS["invalid_keys"], ids=_label)
def test_invalid_keys_are_rejected(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidKey) as caught:
        validate_key(case["value"])
    assert caught.value.status == 400
    assert caught.value.code == "invalid_key"


@pytest.mark.parametrize("case", VECTORS["invalid_session_ids"], ids=_label)
def test_invalid_session_ids_are_rejected(case: dict[str, Any]) -> None:
    with pytest.raises(InvalidId):
        parse_session_id(case["value"])


def test_the_vectors_cover_what_the_contract_names() -> None:
    whys = {case["why"] for case in VECTORS["invalid_ids"]}
    for needed in ("empty", "129 characters", "leading '.'", "NUL", "space"):
        assert needed in whys
    values = {case["value"] for case in VECTORS["invalid_ids"]}
    assert {"a:b", "a/b", "a$b"} <= values
    assert any(isinstance(v, str) and not v.isascii() for v in values)
    assert max(len(v) for v in VECTORS["valid_ids"]) == 128
    assert max(len(v) for v in VECTORS["valid_keys"]) == 64
