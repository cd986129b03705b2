"""The DocumentDB operator recorder: what it extracts from commands, and how it judges them."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.monitoring import CommandStartedEvent

from stateway_testing.store_audit import (
    ALLOWLIST_PATH,
    OperatorRecorder,
    OperatorUse,
    extract_operators,
    load_allowlist,
    lookup,
    violations,
)

DOCS = "https://docs.aws.amazon.com/documentdb/latest/developerguide/"


@pytest.fixture(scope="module")
def allowlist() -> dict[str, Any]:
    return load_allowlist()


def started(command: dict[str, Any], request_id: int = 1, database: str = "stateway") -> CommandStartedEvent:
    return CommandStartedEvent(command, database, request_id, ("127.0.0.1", 27017), request_id)


def feed(recorder: OperatorRecorder, *commands: dict[str, Any]) -> OperatorRecorder:
    for i, command in enumerate(commands, start=1):
        recorder.started(started(command, request_id=i))
    return recorder


def names(uses: list[OperatorUse], kind: str) -> list[str]:
    return [u.name for u in uses if u.kind == kind]


# the data ---------------------------------------------------------------------


def test_data_file_has_source_date_and_a_url_for_every_entry(allowlist: dict[str, Any]) -> None:
    assert ALLOWLIST_PATH.name == "documentdb-5.0.json"
    assert allowlist["retrieved"] == "2026-12-01"
    assert allowlist["source"] == DOCS + "mongo-apis.html"
    for section, entries in allowlist.items():
        if section in ("legend", "engine", "retrieved", "source", "notes"):
            continue
        for name, entry in entries.items():
            assert isinstance(entry["supported"], bool), (section, name)
            assert entry["url"].startswith(DOCS), (section, name)
    assert all(note["url"].startswith(DOCS) for note in allowlist["notes"])


@pytest.mark.parametrize(
    ("section", "name", "supported"),
    [
        ("query_operators", "$expr", True),
        ("query_operators", "$exists", True),
        ("query_operators", "$lte", True),
        ("query_operators", "$in", True),
        ("query_operators", "$where", False),
        ("update_operators", "$set", True),
        ("update_operators", "$inc", True),
        ("update_operators", "$push", True),
        ("update_operators", "$each", True),
        ("update_operators", "$slice", True),
        ("update_operators", "$setOnInsert", True),
        ("update_operators", "$unset", True),
        ("expression_operators", "$bsonSize", False),
        ("expression_operators", "$binarySize", False),
        ("stages", "$set", False),
        ("commands", "findAndModify", True),
        ("commands", "endSessions", False),
        ("features", "retryable writes", False),
    ],
)
def test_data_records_the_documented_status(
    allowlist: dict[str, Any], section: str, name: str, supported: bool
) -> None:
    assert allowlist[section][name]["supported"] is supported


def test_bson_size_is_new_in_8_0_1_and_retryable_writes_in_8_0_2(allowlist: dict[str, Any]) -> None:
    assert allowlist["expression_operators"]["$bsonSize"]["added"] == "8.0.1"
    assert allowlist["expression_operators"]["$bsonSize"]["detail_url"] == DOCS + "bsonSize.html"
    assert allowlist["features"]["retryable writes"]["added"] == "8.0.2"


# extraction ---------------------------------------------------------------------


def test_bson_size_inside_expr_in_a_find_and_modify_query_is_a_violation(allowlist: dict[str, Any]) -> None:
    recorder = feed(
        OperatorRecorder(),
        {
            "findAndModify": "sessions",
            "query": {"_id": "s1", "$expr": {"$lte": [{"$bsonSize": "$state"}, 10]}},
            "update": {"$set": {"state.k": 1}, "$inc": {"version": 1}},
            "new": True,
            "$db": "stateway",
        },
    )
    [command] = recorder.commands
    assert names(list(command.operators), "query") == ["$expr"]
    assert names(list(command.operators), "expression") == ["$lte", "$bsonSize"]
    [line] = violations(recorder, allowlist)
    assert line.startswith("findAndModify: expression operator $bsonSize (at query.$expr.$lte[0].$bsonSize)")
    assert "added in 8.0.1" in line
    assert DOCS + "bsonSize.html" in line


def test_set_inc_and_push_each_slice_are_extracted_and_allowed(allowlist: dict[str, Any]) -> None:
    recorder = feed(
        OperatorRecorder(),
        {
            "update": "sessions",
            "updates": [
                {
                    "q": {"_id": "s1", "version": {"$lte": 3}},
                    "u": {
                        "$push": {"state.navigation": {"$each": [{"path": "/a"}], "$slice": -20}},
                        "$set": {"updated_at": 1},
                        "$inc": {"version": 1},
                    },
                    "multi": False,
                    "upsert": False,
                }
            ],
        },
    )
    uses = list(recorder.commands[0].operators)
    assert names(uses, "update") == ["$push", "$set", "$inc"]
    assert names(uses, "update_modifier") == ["$each", "$slice"]
    assert names(uses, "query") == ["$lte"]
    assert violations(recorder, allowlist) == []


def test_a_field_path_value_is_not_an_operator() -> None:
    uses = extract_operators(
        "aggregate",
        {
            "aggregate": "sessions",
            "pipeline": [
                {"$match": {"state": {"$exists": True}}},
                {
                    "$project": {
                        "size": {"$size": {"$objectToArray": "$state"}},
                        "whole": "$$ROOT",
                        "s": "$state",
                    }
                },
            ],
        },
    )
    all_names = [u.name for u in uses]
    assert "$state" not in all_names
    assert names(uses, "stage") == ["$match", "$project"]
    assert names(uses, "expression") == ["$size", "$objectToArray"]
    # $$ROOT is a variable, recorded apart from operators (and supported).
    assert names(uses, "system_variable") == ["$$ROOT"]
    assert "$$ROOT" not in {u.name for u in uses if u.kind != "system_variable"}


def test_user_variables_are_not_system_variables() -> None:
    uses = extract_operators(
        "aggregate",
        {
            "aggregate": "c",
            "pipeline": [
                {
                    "$project": {
                        "n": {
                            "$reduce": {
                                "input": "$a",
                                "initialValue": 0,
                                "in": {"$add": ["$$value", "$$this"]},
                            }
                        }
                    }
                }
            ],
        },
    )
    assert names(uses, "expression") == ["$reduce", "$add"]
    assert names(uses, "system_variable") == []


def test_inserted_documents_and_set_values_are_data() -> None:
    recorder = feed(
        OperatorRecorder(),
        {"insert": "sessions", "documents": [{"_id": "s1", "state": {"$weird": 1, "nested": {"$gt": 2}}}]},
        {"findAndModify": "sessions", "query": {"_id": "s1"}, "update": {"$set": {"state": {"$inc": 5}}}},
        {"update": "sessions", "updates": [{"q": {"_id": "s1"}, "u": {"state": {"$x": 1}}}]},
    )
    insert, fam, replace = recorder.commands
    assert insert.operators == ()
    assert [u.name for u in fam.operators] == ["$set"]
    assert replace.operators == ()  # a replacement document is data


def test_a_txn_number_is_noticed_and_is_a_violation(allowlist: dict[str, Any]) -> None:
    recorder = feed(
        OperatorRecorder(),
        {"insert": "sessions", "documents": [{"_id": 1}], "lsid": {"id": b"x"}, "txnNumber": 7},
        {"insert": "sessions", "documents": [{"_id": 2}], "lsid": {"id": b"x"}},
    )
    assert recorder.carried_txn_number
    assert [c.txn_number for c in recorder.commands] == [7, None]
    [line] = violations(recorder, allowlist)
    assert line.startswith("insert: carried txnNumber")
    assert "added in 8.0.2" in line
    assert "retryWrites=false" in line


def test_driver_internal_commands_are_recorded_but_not_judged(allowlist: dict[str, Any]) -> None:
    recorder = feed(
        OperatorRecorder(),
        {"hello": 1, "$db": "admin"},
        {"isMaster": 1},
        {"ping": 1},
        {"buildInfo": 1},
        {"endSessions": [{"id": b"x"}]},
    )
    assert recorder.command_names() == ["hello", "isMaster", "ping", "buildInfo", "endSessions"]
    assert all(c.driver_internal for c in recorder.commands)
    assert violations(recorder, allowlist) == []


def test_an_empty_command_document_is_recorded_by_name() -> None:
    # pymongo blanks sensitive commands (authentication) in its events.
    recorder = OperatorRecorder()
    recorder.record("saslStart", {})
    assert recorder.command_names() == ["saslStart"]


def test_unknown_commands_and_operators_are_violations(allowlist: dict[str, Any]) -> None:
    recorder = feed(
        OperatorRecorder(),
        {"bulkWrite": 1, "ops": []},
        {"find": "c", "filter": {"$where": "this.a > 1", "b": {"$madeUp": 1}}},
    )
    lines = violations(recorder, allowlist)
    assert any(line.startswith("bulkWrite: command is not listed") for line in lines)
    assert any("query operator $where" in line and "is not supported" in line for line in lines)
    assert any("query operator $madeUp" in line and "is not listed" in line for line in lines)


def test_same_names_are_judged_by_where_they_occur(allowlist: dict[str, Any]) -> None:
    # $set is an update operator on 5.0, but not a stage; $slice is a modifier only inside $push.
    recorder = feed(
        OperatorRecorder(),
        {"aggregate": "c", "pipeline": [{"$set": {"a": 1}}, {"$count": "n"}], "cursor": {}},
        {"update": "c", "updates": [{"q": {}, "u": {"$slice": {"a": 1}}}]},
    )
    lines = violations(recorder, allowlist)
    assert any(line.startswith("aggregate: aggregation stage $set") for line in lines)
    assert not any("stage $count" in line for line in lines)
    assert any(line.startswith("update: update operator $slice") for line in lines)
    assert lookup(allowlist, "update_modifier", "$slice") is not None
    assert lookup(allowlist, "update", "$slice") is None


def test_logical_elem_match_pull_and_array_filters_are_walked(allowlist: dict[str, Any]) -> None:
    uses = extract_operators(
        "findAndModify",
        {
            "findAndModify": "c",
            "query": {"$or": [{"a": {"$in": [1, 2]}}, {"b": {"$elemMatch": {"c": {"$gt": 1}}}}]},
            "update": {"$pull": {"tags": {"$in": ["x"]}}, "$set": {"items.$[i].done": True}},
            "arrayFilters": [{"i.id": {"$eq": 3}}],
            "fields": {"a": 1, "arr": {"$slice": 2}},
            "sort": {"a": -1},
        },
    )
    assert names(uses, "query") == ["$or", "$in", "$elemMatch", "$gt", "$in", "$eq"]
    assert names(uses, "update") == ["$pull", "$set", "$[<identifier>]"]
    assert names(uses, "projection") == ["$slice"]


def test_regex_options_is_part_of_regex() -> None:
    uses = extract_operators("find", {"find": "c", "filter": {"name": {"$regex": "^a", "$options": "i"}}})
    assert names(uses, "query") == ["$regex"]


def test_lookup_pipelines_and_group_accumulators() -> None:
    uses = extract_operators(
        "aggregate",
        {
            "aggregate": "c",
            "pipeline": [
                {
                    "$lookup": {
                        "from": "o",
                        "let": {"x": "$a"},
                        "pipeline": [{"$match": {"$expr": {"$eq": ["$b", "$$x"]}}}],
                        "as": "j",
                    }
                },
                {"$group": {"_id": "$k", "n": {"$sum": 1}, "f": {"$first": "$v"}}},
                {"$sort": {"n": -1}},
                {"$limit": 5},
            ],
        },
    )
    assert names(uses, "stage") == ["$lookup", "$match", "$group", "$sort", "$limit"]
    assert names(uses, "query") == ["$expr"]
    assert names(uses, "expression") == ["$eq", "$sum", "$first"]


def test_index_specs_are_classified(allowlist: dict[str, Any]) -> None:
    recorder = feed(
        OperatorRecorder(),
        {
            "createIndexes": "sessions",
            "indexes": [
                {"key": {"client_id": 1, "user_id": 1, "updated_at": -1}, "name": "namespace_updated"},
                {"key": {"expires": 1}, "name": "ttl", "expireAfterSeconds": 0},
                {"key": {"a": 1}, "name": "hid", "hidden": True},
            ],
        },
    )
    uses = list(recorder.commands[0].operators)
    assert names(uses, "index_type") == ["Compound Index", "Single Field Index", "Single Field Index"]
    assert names(uses, "index_option") == ["TTL", "Hidden"]
    [line] = violations(recorder, allowlist)
    assert line.startswith("createIndexes: index property Hidden")


def test_find_cursor_options_are_judged(allowlist: dict[str, Any]) -> None:
    recorder = feed(
        OperatorRecorder(),
        {"find": "c", "filter": {"_id": 1}, "limit": 1, "singleBatch": True},
        {"find": "c", "filter": {}, "collation": {"locale": "en", "strength": 2}},
    )
    lines = violations(recorder, allowlist)
    assert len(lines) == 1
    assert lines[0].startswith("find: cursor option cursor.collation()")


def test_repeated_problems_are_reported_once_with_a_count(allowlist: dict[str, Any]) -> None:
    command = {"findAndModify": "c", "query": {"$expr": {"$gt": [{"$bsonSize": "$s"}, 1]}}, "update": {}}
    recorder = feed(OperatorRecorder(), command, command, command)
    [line] = violations(recorder, allowlist)
    assert line.endswith("[x3]")


def test_clear_and_operator_sets() -> None:
    recorder = feed(OperatorRecorder(), {"find": "c", "filter": {"a": {"$exists": True}}})
    assert recorder.operators("query") == {"$exists"}
    recorder.clear()
    assert recorder.commands == []
