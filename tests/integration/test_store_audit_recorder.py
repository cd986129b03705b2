"""The DocumentDB operator recorder on real traffic: a pymongo client against the MongoDB-protocol server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import ReturnDocument

from stateway_testing.clients import mongo_client, uri_with
from stateway_testing.store_audit import OperatorRecorder, load_allowlist, violations


@pytest.fixture(scope="module")
def allowlist() -> dict[str, Any]:
    return load_allowlist()


def recorded_client(uri: str, *, retry_writes: bool | None) -> tuple[Any, OperatorRecorder]:
    """The layer's client with a recorder; ``retry_writes=None`` leaves pymongo's default (true)."""
    recorder = OperatorRecorder()
    if retry_writes is not None:
        uri = uri_with(uri, retryWrites="true" if retry_writes else "false")
    client = mongo_client(uri, timeout_ms=10000, event_listeners=[recorder])
    return client, recorder


@pytest.fixture
def no_retry(mongodb_uri: str) -> Iterator[tuple[Any, OperatorRecorder]]:
    client, recorder = recorded_client(mongodb_uri, retry_writes=False)
    yield client[f"audit_{uuid.uuid4().hex[:8]}"]["sessions"], recorder
    client.close()


def test_set_inc_with_lte_and_exists_filter_is_recorded_and_allowed(
    no_retry: tuple[Any, OperatorRecorder], allowlist: dict[str, Any]
) -> None:
    sessions, recorder = no_retry
    sessions.insert_one({"_id": "s1", "state": {"a": 1}, "version": 1})
    recorder.clear()

    doc = sessions.find_one_and_update(
        {"_id": "s1", "version": {"$lte": 1}, "state": {"$exists": True}},
        {"$set": {"state.b": 2}, "$inc": {"version": 1}},
        return_document=ReturnDocument.AFTER,
    )

    assert doc is not None and doc["version"] == 2
    [command] = [c for c in recorder.commands if c.name == "findAndModify"]
    assert {(u.kind, u.name) for u in command.operators} == {
        ("query", "$lte"),
        ("query", "$exists"),
        ("update", "$set"),
        ("update", "$inc"),
    }
    assert violations(recorder, allowlist) == []


def test_bson_size_in_an_expr_filter_is_a_violation(
    no_retry: tuple[Any, OperatorRecorder], allowlist: dict[str, Any]
) -> None:
    sessions, recorder = no_retry
    sessions.insert_one({"_id": "s2", "state": {"a": 1}, "version": 1})
    recorder.clear()

    # The test server evaluates $bsonSize (MongoDB does); DocumentDB 5.0 does not list it.
    sessions.find_one_and_update(
        {"_id": "s2", "$expr": {"$lte": [{"$bsonSize": "$state"}, 10]}},
        {"$set": {"state.b": 2}},
    )

    assert recorder.operators("expression") == {"$lte", "$bsonSize"}
    lines = violations(recorder, allowlist)
    assert len(lines) == 1
    assert lines[0].startswith("findAndModify: expression operator $bsonSize")


def test_push_each_slice_is_recorded_and_allowed(
    no_retry: tuple[Any, OperatorRecorder], allowlist: dict[str, Any]
) -> None:
    sessions, recorder = no_retry
    sessions.insert_one({"_id": "s3", "state": {"navigation": []}, "version": 1})
    sessions.update_one(
        {"_id": "s3"},
        {"$push": {"state.navigation": {"$each": [{"path": "/x"}], "$slice": -3}}, "$inc": {"version": 1}},
    )
    assert recorder.operators("update_modifier") == {"$each", "$slice"}
    assert violations(recorder, allowlist) == []


def test_with_retry_writes_false_no_command_carries_txn_number(
    no_retry: tuple[Any, OperatorRecorder], allowlist: dict[str, Any]
) -> None:
    sessions, recorder = no_retry
    sessions.insert_one({"_id": "s4", "state": {}, "version": 1})
    sessions.update_one({"_id": "s4"}, {"$set": {"state.k": 1}})
    sessions.find_one_and_update({"_id": "s4"}, {"$inc": {"version": 1}})
    sessions.delete_one({"_id": "s4"})

    assert {"insert", "update", "findAndModify", "delete"} <= set(recorder.command_names())
    assert recorder.txn_number_commands() == []
    assert not recorder.carried_txn_number
    assert violations(recorder, allowlist) == []


def test_with_default_retry_writes_writes_carry_txn_number(
    mongodb_uri: str, allowlist: dict[str, Any]
) -> None:
    # The test server reports a replica set (setName) and logicalSessionTimeoutMinutes,
    # so pymongo's default retryWrites=true makes every single-document write a
    # retryable write attempt with a txnNumber: the detection works on real traffic.
    client, recorder = recorded_client(mongodb_uri, retry_writes=None)
    try:
        sessions = client[f"audit_{uuid.uuid4().hex[:8]}"]["sessions"]
        sessions.insert_one({"_id": "s5", "version": 1})
        sessions.find_one_and_update({"_id": "s5"}, {"$inc": {"version": 1}})
        sessions.find_one({"_id": "s5"})
    finally:
        client.close()

    carried = {c.name for c in recorder.txn_number_commands()}
    assert carried == {"insert", "findAndModify"}  # writes only; the find carries none
    lines = violations(recorder, allowlist)
    assert any(line.startswith("insert: carried txnNumber") for line in lines)
    assert any(line.startswith("findAndModify: carried txnNumber") for line in lines)
    # Closing the client sends endSessions: recorded, but driver-internal, so not judged.
    assert "endSessions" in recorder.command_names()
    assert not any(line.startswith("endSessions") for line in lines)
