"""The MongoDB store tier's contract, against the MongoDB-protocol server (or MONGODB_URI)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from clients import mongo_client
from servers import MongoServer

from stateway.errors import PayloadTooLarge, PreconditionFailed, SessionNotFound, StoreUnavailable
from stateway.tiers.mongo_store import MongoStore

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


def test_indexes_are_idempotent(store: MongoStore) -> None:
    store.ensure_indexes()
    store.ensure_indexes()


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
