"""The request parsers of ``http.py`` and the snapshot-id parser, on hostile text.

Each integer place (``limit``, ``If-Match``, a snapshot id's version) takes ASCII digits
only and a bounded number of them; a body is refused unless what it holds can be stored.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from chalice.app import CaseInsensitiveMapping, MultiDict
from hypothesis import given, settings
from hypothesis import strategies as st

from stateway import documents
from stateway.config import Settings
from stateway.errors import InvalidJson, InvalidRequest, InvalidState, SnapshotNotFound
from stateway.http import ApiRequest
from stateway.ids import parse_digits
from stateway.tiers.s3_snapshots import (
    object_name,
    parse_snapshot_id,
    parse_stamp,
    snapshot_id,
    stamp,
)
from stateway_testing.strategies import hostile_strings, plain_text, unicode_numbers

MANY = settings(max_examples=1000, deadline=None)

document_keys = st.text(alphabet="abcxyz_-é日\U0001f600", min_size=1, max_size=4)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | plain_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(document_keys, children, max_size=3),
    max_leaves=8,
)
moments = st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)
versions = st.integers(min_value=0, max_value=10**18 - 1)


class Raw:
    """What :class:`ApiRequest` reads of a Chalice request."""

    def __init__(
        self,
        *,
        query: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        self.context: dict[str, Any] = {}
        self.query_params = MultiDict(query) if query is not None else None
        self.headers = CaseInsensitiveMapping({"content-type": "application/json", **(headers or {})})
        self.raw_body = body


SETTINGS = Settings.from_env({})


def request(**kwargs: Any) -> ApiRequest:
    return ApiRequest(Raw(**kwargs), SETTINGS)


def limit(text: str) -> int:
    return request(query={"limit": [text]}).query_int("limit", default=20, low=1, high=100)


def if_match(text: str) -> int | None:
    return request(headers={"if-match": text}).if_match()


def body(payload: bytes) -> dict[str, Any]:
    return request(body=payload).json_object()


# parse_digits --------------------------------------------------------------------------------


@MANY
@given(st.integers(min_value=0, max_value=10**18 - 1))
def test_parse_digits_reads_what_str_writes(n: int) -> None:
    assert parse_digits(str(n)) == n


@MANY
@given(unicode_numbers)
def test_parse_digits_refuses_other_scripts_digits(text: str) -> None:
    assert text.isdigit()
    assert parse_digits(text) is None


@pytest.mark.parametrize(
    "text", ["", " 1", "1 ", "+1", "-1", "1_0", "0x1", "1.0", "1e2", "\u00b2", "\u0661\u0660", "\uff11"]
)
def test_parse_digits_refuses_anything_but_ascii_digits(text: str) -> None:
    assert parse_digits(text) is None


@pytest.mark.parametrize("digits", [19, 4_300, 4_301, 100_000])
def test_parse_digits_is_bounded(digits: int) -> None:
    assert parse_digits("9" * digits) is None
    assert parse_digits("9" * digits, max_digits=3) is None


# query_int -----------------------------------------------------------------------------------


@MANY
@given(st.integers(min_value=1, max_value=100))
def test_query_int_reads_its_range(n: int) -> None:
    assert limit(str(n)) == n


def test_query_int_default_when_absent() -> None:
    assert request(query={}).query_int("limit", default=20, low=1, high=100) == 20
    assert request().query_int("limit", default=20, low=1, high=100) == 20


@MANY
@given(st.one_of(unicode_numbers, st.text(st.characters(codec="utf-8"), max_size=8)))
def test_query_int_refuses_what_is_not_an_ascii_number_in_range(text: str) -> None:
    value = parse_digits(text, max_digits=3)
    if value is not None and 1 <= value <= 100:
        assert limit(text) == value
    else:
        with pytest.raises(InvalidRequest):
            limit(text)


@pytest.mark.parametrize("text", ["0", "101", "0101", "9" * 5_000, "\u00b2", "\u0661\u0660", "\uff11\uff10"])
def test_query_int_refuses_out_of_range_and_unicode_digits(text: str) -> None:
    with pytest.raises(InvalidRequest):
        limit(text)


def test_query_int_refuses_a_repeated_parameter() -> None:
    with pytest.raises(InvalidRequest):
        request(query={"limit": ["1", "2"]}).query_int("limit", default=20, low=1, high=100)


# if_match ------------------------------------------------------------------------------------


@MANY
@given(st.integers(min_value=0, max_value=10**18 - 1), st.sampled_from(["{}", '"{}"', 'W/"{}"', " {} "]))
def test_if_match_reads_bare_quoted_and_weak_versions(n: int, form: str) -> None:
    assert if_match(form.format(n)) == n


@pytest.mark.parametrize("text", [None, "*", " * "])
def test_if_match_absent_or_star_is_none(text: str | None) -> None:
    headers = {} if text is None else {"if-match": text}
    assert request(headers=headers).if_match() is None


@MANY
@given(unicode_numbers, st.sampled_from(["{}", '"{}"', 'W/"{}"']))
def test_if_match_refuses_other_scripts_digits(text: str, form: str) -> None:
    with pytest.raises(InvalidRequest):
        if_match(form.format(text))


@pytest.mark.parametrize(
    "text",
    [
        "\u00b2",
        # "²" as the raw UTF-8 bytes a careless client sends, read as Latin-1 by the server.
        "\u00c2\u00b2",
        '"7',
        '7"',
        '""7""',
        '"7", "8"',
        "W/7x",
        "-1",
        "+1",
        "1" * 19,
        "9" * 5_000,
        "",
    ],
)
def test_if_match_refuses_what_is_not_a_version(text: str) -> None:
    with pytest.raises(InvalidRequest):
        if_match(text)


# json_object ---------------------------------------------------------------------------------


@MANY
@given(st.dictionaries(plain_text, json_values, max_size=4), st.booleans())
def test_json_object_reads_what_orjson_can_write(value: dict[str, Any], ascii_only: bool) -> None:
    payload = json.dumps(value, ensure_ascii=ascii_only).encode()
    parsed = body(payload)
    assert parsed == value
    assert orjson.loads(orjson.dumps(parsed)) == value


@MANY
@given(st.dictionaries(plain_text, json_values, max_size=3), hostile_strings, st.booleans(), st.booleans())
def test_json_object_refuses_a_lone_surrogate_as_a_value_or_a_key(
    rest: dict[str, Any], text: str, as_key: bool, raw: bool
) -> None:
    value = {**rest, text: 1} if as_key else {**rest, "k": [text]}
    if raw:
        # The surrogate as its (invalid) UTF-8-style bytes, not as an escape.
        payload = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    else:
        payload = json.dumps(value).encode()
    with pytest.raises(InvalidJson):
        body(payload)


def test_json_object_takes_a_surrogate_pair_as_one_character() -> None:
    assert body(b'{"\\ud83d\\ude00": "\\ud83d\\ude00"}') == {"\U0001f600": "\U0001f600"}


@pytest.mark.parametrize(
    "payload",
    [
        b'{"a": 1, "a": 2}',
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": "\\ud800"}',
        b'{"\\udfff": 1}',
        b'{"a": "\\ude00\\ud83d"}',
        b'{"a": "\xed\xa0\x80"}',
        b'{"a": "\xff"}',
        '{"a": 1}'.encode("utf-16"),
        b"{",
    ],
)
def test_json_object_refuses_what_it_cannot_store(payload: bytes) -> None:
    with pytest.raises(InvalidJson):
        body(payload)


def test_json_object_refuses_a_body_that_is_not_an_object() -> None:
    with pytest.raises(InvalidRequest):
        body(b"[1]")


# documents -----------------------------------------------------------------------------------


@MANY
@given(json_values)
def test_documents_without_surrogates_are_storable(value: Any) -> None:
    assert not documents.has_lone_surrogate(value)
    documents.check_document({"v": value})
    documents.dumps(value)


@MANY
@given(hostile_strings, st.booleans())
def test_check_document_refuses_what_orjson_cannot_write(text: str, as_key: bool) -> None:
    value = {text: 1} if as_key else {"k": {"deeper": [text]}}
    assert documents.has_lone_surrogate(value)
    with pytest.raises(orjson.JSONEncodeError):
        documents.dumps(value)
    with pytest.raises(InvalidState):
        documents.check_document(value)


# snapshot ids --------------------------------------------------------------------------------


@MANY
@given(versions, moments)
def test_snapshot_ids_parse_as_they_are_formed(version: int, moment: datetime) -> None:
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    formed = snapshot_id(version, moment)
    assert parse_snapshot_id(formed) == (version, moment)
    assert parse_stamp(stamp(moment)) == moment
    assert object_name(*parse_snapshot_id(formed)) == object_name(version, moment)


@MANY
@given(versions, moments, st.characters(categories=["Nd"], exclude_characters="0123456789"), st.data())
def test_snapshot_ids_in_other_digits_name_no_snapshot(
    version: int, moment: datetime, digit: str, data: st.DataObject
) -> None:
    zero = ord(digit) - unicodedata.digit(digit)
    formed = snapshot_id(version, moment)
    positions = [i for i, c in enumerate(formed) if c.isascii() and c.isdigit()]
    chosen = data.draw(st.sets(st.sampled_from(positions), min_size=1))
    forged = "".join(chr(zero + int(c)) if i in chosen else c for i, c in enumerate(formed))
    with pytest.raises(SnapshotNotFound):
        parse_snapshot_id(forged)


@MANY
@given(st.text(max_size=40))
def test_snapshot_id_parsing_accepts_only_its_own_output(text: str) -> None:
    try:
        version, moment = parse_snapshot_id(text)
    except SnapshotNotFound:
        return
    assert snapshot_id(version, moment) == text


@pytest.mark.parametrize(
    "text",
    [
        "07-20261124T123456789Z",
        "+7-20261124T123456789Z",
        " 7-20261124T123456789Z",
        "7-20261124T123456+89Z",
        "7-20261124T123456 89Z",
        "7-2026112T1234567890Z",
        "7-20261124t123456789Z",
        "7-20261124T123456789",
        "7-20261124T123456789Z-",
        "7-20261324T123456789Z",
        "7-20261124T246056789Z",
        "\u0667-20261124T123456789Z",
        "\uff17-20261124T123456789Z",
        "7-\u0662\u0660261124T123456789Z",
        "1" * 19 + "-20261124T123456789Z",
        "9" * 5_000 + "-20261124T123456789Z",
        "7",
        "",
    ],
)
def test_malformed_snapshot_ids_name_no_snapshot(text: str) -> None:
    with pytest.raises(SnapshotNotFound):
        parse_snapshot_id(text)
