"""The MongoDB store tier's contract, against the MongoDB-protocol server (or MONGODB_URI)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stateway import documents
from stateway.errors import (
    PayloadTooLarge,
    PreconditionFailed,
    SessionNotFound,
    StoreBug,
    StoreUnavailable,
)
from stateway.tiers.mongo_store import MongoStore
from stateway_local.servers import MongoServer
from stateway_testing.clients import mongo_client

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(mongo_db: Any) -> MongoStore:
    s = MongoStore(mongo_db)
    s.ensure_indexes()
    return s


@pytest.fixture
def sid() -> str:
    return f"session:c{uuid.uuid4().hex[:8]}:u:a:p"


def create(store: MongoStore, sid: str, **state: Any) -> None:
    _, c, u, a, p = sid.split(":")
    store.create_session(
        sid, client_id=c, user_id=u, app_id=a, project_id=p, state={"navigation": [], **state}, now=NOW
    )


def test_missing_session_is_none_not_an_error(store: MongoStore, sid: str) -> None:
    assert store.get_session(sid) is None


def test_create_if_absent_has_one_winner(store: MongoStore, sid: str) -> None:
    results: list[bool] = []

    def init() -> None:
        _, created = store.create_session(
            sid, client_id="c", user_id="u", app_id="a", project_id="p", state={"n": 1}, now=NOW
        )
        results.append(created)

    threads = [threading.Thread(target=init) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    stored = store.get_session(sid)
    assert stored is not None and stored.version == 1 and stored.state == {"n": 1}


def test_set_key_is_atomic_and_versioned(store: MongoStore, sid: str) -> None:
    create(store, sid)
    after = store.set_session_key(
        sid, "theme", {"dark": True}, value_bytes=20, max_bytes=1000, expected_version=None, now=NOW
    )
    assert after.version == 2
    assert after.state == {"navigation": [], "theme": {"dark": True}}


def test_expected_version_mismatch_writes_nothing(store: MongoStore, sid: str) -> None:
    create(store, sid)
    with pytest.raises(PreconditionFailed) as info:
        store.set_session_key(sid, "k", 1, value_bytes=1, max_bytes=1000, expected_version=7, now=NOW)
    assert info.value.current_version == 1
    stored = store.get_session(sid)
    assert stored is not None and stored.version == 1 and "k" not in stored.state
    ok = store.set_session_key(sid, "k", 1, value_bytes=1, max_bytes=1000, expected_version=1, now=NOW)
    assert ok.version == 2


def test_update_of_missing_session_is_not_found(store: MongoStore, sid: str) -> None:
    with pytest.raises(SessionNotFound):
        store.set_session_key(sid, "k", 1, value_bytes=1, max_bytes=1000, expected_version=None, now=NOW)
    assert store.get_session(sid) is None


def test_size_guard_refuses_growth_but_allows_replacement(store: MongoStore, sid: str) -> None:
    create(store, sid, big="x" * 500)
    with pytest.raises(PayloadTooLarge):
        store.set_session_key(
            sid, "more", "y" * 500, value_bytes=502, max_bytes=900, expected_version=None, now=NOW
        )
    # Replacing the big value with another as big stays within the limit.
    after = store.set_session_key(
        sid, "big", "z" * 500, value_bytes=502, max_bytes=900, expected_version=None, now=NOW
    )
    assert after.version == 2 and "more" not in after.state


def test_navigation_keeps_the_newest_entries(store: MongoStore, sid: str) -> None:
    create(store, sid)
    for i in range(7):
        last = store.push_navigation(
            sid, {"path": f"/p{i}"}, limit=3, entry_bytes=20, max_bytes=10000, expected_version=None, now=NOW
        )
    assert [e["path"] for e in last.state["navigation"]] == ["/p4", "/p5", "/p6"]
    assert last.version == 8


def test_invalid_update_paths_are_the_callers_job_but_values_round_trip(store: MongoStore, sid: str) -> None:
    create(store, sid)
    value = {"list": [], "obj": {}, "big": 2**62, "unicode": "é✓"}
    after = store.set_session_key(
        sid, "v", value, value_bytes=60, max_bytes=10000, expected_version=None, now=NOW
    )
    assert after.state["v"] == value


def test_namespace_is_queried_by_client_and_user(store: MongoStore) -> None:
    client = f"c{uuid.uuid4().hex[:8]}"
    for user, project in (("alice", "p1"), ("alice", "p2"), ("bob", "p1")):
        store.create_session(
            f"session:{client}:{user}:app:{project}",
            client_id=client,
            user_id=user,
            app_id="app",
            project_id=project,
            state={},
            now=NOW,
        )
    listed = store.list_sessions(client, "alice")
    assert sorted(s.project_id for s in listed) == ["p1", "p2"]
    assert sorted(store.delete_sessions(client, "alice")) == [
        f"session:{client}:alice:app:p1",
        f"session:{client}:alice:app:p2",
    ]
    assert store.list_sessions(client, "alice") == []
    assert len(store.list_sessions(client, "bob")) == 1


def test_delete_is_idempotent(store: MongoStore, sid: str) -> None:
    create(store, sid)
    assert store.delete_session(sid)
    assert not store.delete_session(sid)


def test_project_save_versions_and_expected_version(store: MongoStore) -> None:
    pid = f"project_state:c{uuid.uuid4().hex[:8]}:a:p"
    ids = {"client_id": "c", "app_id": "a", "project_id": "p"}
    with pytest.raises(PreconditionFailed):
        store.save_project(pid, {"x": 1}, ids=ids, expected_version=3, now=NOW)
    assert store.get_project(pid) is None
    first = store.save_project(pid, {"x": 1}, ids=ids, expected_version=0, now=NOW)
    assert first.version == 1
    with pytest.raises(PreconditionFailed):
        store.save_project(pid, {"x": 2}, ids=ids, expected_version=0, now=NOW)
    second = store.save_project(pid, {"x": 2}, ids=ids, expected_version=1, now=NOW)
    assert second.version == 2
    with pytest.raises(PreconditionFailed):
        store.save_project(pid, {"x": 3}, ids=ids, expected_version=1, now=NOW)
    got = store.get_project(pid)
    assert got is not None and (got.state, got.version) == ({"x": 2}, 2)
    store.put_project_if_absent(pid, {"old": True}, version=1, saved_at=NOW, ids=ids)
    got = store.get_project(pid)
    assert got is not None and got.state == {"x": 2}


INDEX_OPTIONS = ("unique", "sparse", "expireAfterSeconds", "partialFilterExpression")


def indexes(collection: Any) -> dict[str, tuple[list[tuple[str, int]], dict[str, Any]]]:
    """Name -> (keys in order, the options that change what the index accepts or keeps)."""
    return {
        index["name"]: (list(index["key"].items()), {o: index[o] for o in INDEX_OPTIONS if o in index})
        for index in collection.list_indexes()
    }


def test_indexes_are_idempotent(mongo_db: Any, uid: str) -> None:
    name = f"indexes_{uid}"
    db = mongo_db.client[name]
    try:
        store = MongoStore(db)
        store.ensure_indexes()
        first = (indexes(db.sessions), indexes(db.project_states))
        store.ensure_indexes()
        assert (indexes(db.sessions), indexes(db.project_states)) == first
        sessions, project_states = first
        # The namespace listing's index: not unique (a user has many sessions), no TTL, not
        # sparse or partial (every session is listed).
        assert sessions == {
            "_id_": ([("_id", 1)], {}),
            "namespace_updated": ([("client_id", 1), ("user_id", 1), ("updated_at", -1)], {}),
        }
        # Project states are read and written by _id only: no index of their own.
        assert set(project_states) <= {"_id_"}
    finally:
        mongo_db.client.drop_database(name)


def test_store_down_is_unavailable_never_none(tmp_path: Path) -> None:
    server = MongoServer(tmp_path)
    server.start()
    client = mongo_client(server.uri, timeout_ms=500)
    store = MongoStore(client["down"])
    store.ensure_indexes()
    server.stop()
    with pytest.raises(StoreUnavailable):
        store.get_session("session:a:b:c:d")
    with pytest.raises(StoreUnavailable):
        store.get_project("project_state:a:b:c")
    with pytest.raises(StoreUnavailable):
        store.ping()
    client.close()


def test_racing_first_saves_get_distinct_versions(store: MongoStore) -> None:
    pid = f"project_state:c{uuid.uuid4().hex[:8]}:a:p"
    ids = {"client_id": "c", "app_id": "a", "project_id": "p"}
    versions: list[int] = []

    def save(i: int) -> None:
        versions.append(store.save_project(pid, {"i": i}, ids=ids, expected_version=None, now=NOW).version)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(versions) == list(range(1, 9))


# Size bookkeeping: the limit without $bsonSize (DocumentDB 5.0 has none). ------------


def set_key(store: MongoStore, sid: str, key: str, value: Any, max_bytes: int = 100_000) -> Any:
    return store.set_session_key(
        sid,
        key,
        value,
        value_bytes=len(documents.dumps(value)),
        max_bytes=max_bytes,
        expected_version=None,
        now=NOW,
    )


def push(store: MongoStore, sid: str, entry: dict[str, Any], limit: int = 3, max_bytes: int = 100_000) -> Any:
    return store.push_navigation(
        sid,
        entry,
        limit=limit,
        entry_bytes=len(documents.dumps(entry)),
        max_bytes=max_bytes,
        expected_version=None,
        now=NOW,
    )


def assert_sizes_match(mongo_db: Any, sid: str) -> int:
    """The stored bookkeeping equals what the state measures as compact JSON; returns that size."""
    doc = mongo_db.sessions.find_one({"_id": sid})
    state = doc["state"]
    members = documents.member_sizes(state)
    navigation = members.pop("navigation")
    assert doc["sizes"]["key"] == members
    items = doc["sizes"]["navigation"]
    assert items == [len(documents.dumps(e)) for e in state["navigation"]]
    assert navigation == documents.member_bytes("navigation", documents.array_bytes(items))
    size = len(documents.dumps(state))
    assert sum(members.values()) + navigation + 1 == size
    return size


def test_sizes_follow_every_kind_of_write(store: MongoStore, sid: str, mongo_db: Any) -> None:
    create(store, sid, env={"locale": "en"})
    assert_sizes_match(mongo_db, sid)
    set_key(store, sid, "theme", "dark")
    set_key(store, sid, "theme", {"mode": "dark", "accents": ["é", "✓"]})
    set_key(store, sid, "n", 2**62)
    for i in range(5):
        push(store, sid, {"path": f"/p{i}" * (i + 1)})
    set_key(store, sid, "navigation", [{"path": "/a"}, {"path": "/bb"}])
    push(store, sid, {"path": "/c"})
    assert_sizes_match(mongo_db, sid)
    assert [e["path"] for e in mongo_db.sessions.find_one({"_id": sid})["state"]["navigation"]] == [
        "/a",
        "/bb",
        "/c",
    ]


def test_the_limit_is_exact_to_the_byte(store: MongoStore, sid: str, mongo_db: Any) -> None:
    create(store, sid)
    size = assert_sizes_match(mongo_db, sid)
    # A new member "pad":"<n x>" adds len('"pad":') + n + 2 quotes + 1 comma.
    room = 1000 - size - len('"pad":""') - 1
    with pytest.raises(PayloadTooLarge):
        set_key(store, sid, "pad", "x" * (room + 1), max_bytes=1000)
    set_key(store, sid, "pad", "x" * room, max_bytes=1000)
    assert assert_sizes_match(mongo_db, sid) == 1000
    with pytest.raises(PayloadTooLarge):
        push(store, sid, {}, max_bytes=1000)
    # Shrinking is always allowed.
    set_key(store, sid, "pad", "", max_bytes=1000)
    assert assert_sizes_match(mongo_db, sid) < 1000


def test_concurrent_writers_of_different_keys_never_pass_the_limit(
    store: MongoStore, sid: str, mongo_db: Any
) -> None:
    create(store, sid)
    size = assert_sizes_match(mongo_db, sid)
    landed: list[str] = []
    refused: list[str] = []

    def write(k: int) -> None:
        try:
            set_key(store, sid, f"k{k}", "x" * 90, max_bytes=size + 500)
            landed.append(f"k{k}")
        except PayloadTooLarge:
            refused.append(f"k{k}")

    threads = [threading.Thread(target=write, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Each member is 4 + 92 + 2 = 98 bytes (k10 and k11 one more): 5 fit in 500, never 6.
    assert len(landed) == 5 and len(refused) == 7
    doc = mongo_db.sessions.find_one({"_id": sid})
    assert sorted(k for k in doc["state"] if k.startswith("k")) == sorted(landed)
    assert doc["version"] == 1 + len(landed)
    assert assert_sizes_match(mongo_db, sid) <= size + 500


def test_racing_writers_of_one_key_all_land_and_sizes_stay_true(
    store: MongoStore, sid: str, mongo_db: Any
) -> None:
    create(store, sid)
    errors: list[Exception] = []

    def write(k: int) -> None:
        for i in range(10):
            try:
                set_key(store, sid, "shared", "v" * (k + i))
                push(store, sid, {"k": k, "i": i}, limit=4)
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert mongo_db.sessions.find_one({"_id": sid})["version"] == 1 + 6 * 10 * 2
    assert_sizes_match(mongo_db, sid)


def test_a_document_from_before_size_bookkeeping_gets_its_sizes(
    store: MongoStore, sid: str, mongo_db: Any
) -> None:
    mongo_db.sessions.insert_one(
        {
            "_id": sid,
            "client_id": "c",
            "user_id": "u",
            "app_id": "a",
            "project_id": "p",
            "state": {"navigation": [{"path": "/old"}], "theme": "dark"},
            "version": 4,
            "created_at": NOW,
            "updated_at": NOW,
        }
    )
    after = push(store, sid, {"path": "/new"})
    assert after.version == 5 and [e["path"] for e in after.state["navigation"]] == ["/old", "/new"]
    assert_sizes_match(mongo_db, sid)


def test_a_write_the_server_refuses_is_a_bug_not_an_outage(
    store: MongoStore, sid: str, mongo_db: Any
) -> None:
    create(store, sid)
    # Someone else's code broke the document: state is no longer an object.
    mongo_db.sessions.update_one({"_id": sid}, {"$set": {"state": "not an object"}})
    with pytest.raises(StoreBug) as info:
        set_key(store, sid, "theme", "dark")
    assert not isinstance(info.value, StoreUnavailable)
    assert info.value.status == 500
