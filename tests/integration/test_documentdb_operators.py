"""Every command the services send to the store is one Amazon DocumentDB 5.0 supports.

There is no DocumentDB to run here, so the store is held to DocumentDB 5.0's
documented lists (``tests/documentdb/documentdb-5.0.json``, each entry with the
AWS page it comes from): a pymongo command listener records every command and
every ``$`` operator while the session and project services go through each of
their paths (first and later writes, guards that refuse, conflicts, fallbacks,
documents from before size bookkeeping), with ``retryWrites=false`` as
DocumentDB 5.0 needs it.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from stateway.config import Settings
from stateway.errors import PayloadTooLarge, PreconditionFailed, ProjectNotFound, SessionNotFound
from stateway.ids import ProjectRef, SessionRef
from stateway.metrics import Metrics
from stateway.projects import ProjectService
from stateway.sessions import SessionService
from stateway.tiers.mongo_store import MongoStore
from stateway.tiers.redis_cache import RedisCache
from stateway.tiers.s3_snapshots import S3Snapshots
from stateway_testing.clients import mongo_client, uri_with
from stateway_testing.store_audit import OperatorRecorder, load_allowlist, violations


@pytest.fixture
def recorded(mongodb_uri: str) -> Iterator[tuple[Any, OperatorRecorder]]:
    recorder = OperatorRecorder()
    client = mongo_client(
        uri_with(mongodb_uri, retryWrites="false"), timeout_ms=5000, event_listeners=[recorder]
    )
    yield client[f"docdb_{uuid.uuid4().hex[:8]}"], recorder
    client.close()


def drive_sessions(service: SessionService, db: Any, redis: Any, client_id: str) -> None:
    ref = SessionRef.of(client_id, "alice", "web", "p1")
    service.init(ref, {"locale": "en"})
    service.init(ref)
    redis.delete(ref.session_id)
    service.state(ref)
    service.state(SessionRef.of(client_id, "alice", "web", "fresh"))
    service.update_key(ref, "theme", "dark")
    service.update_key(ref, "theme", "light", expected_version=2)
    with pytest.raises(PreconditionFailed):
        service.update_key(ref, "theme", "x", expected_version=1)
    with pytest.raises(PayloadTooLarge):
        service.update_key(ref, "big", "x" * 5000)
    with pytest.raises(SessionNotFound):
        service.update_key(SessionRef.of(client_id, "alice", "web", "never"), "k", 1)
    for i in range(4):
        service.add_navigation(ref, {"path": f"/p{i}"})
    service.update_key(ref, "navigation", [{"path": "/reset"}])
    threads = [
        threading.Thread(target=lambda k=k: [service.update_key(ref, "shared", f"{k}-{i}") for i in range(5)])
        for k in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # A document written before the store kept sizes gets them on its first update.
    legacy = SessionRef.of(client_id, "alice", "web", "legacy")
    now = datetime.now(UTC)
    db.sessions.insert_one(
        {
            "_id": legacy.session_id,
            "client_id": client_id,
            "user_id": "alice",
            "app_id": "web",
            "project_id": "legacy",
            "state": {"navigation": [], "a": 1},
            "version": 3,
            "created_at": now,
            "updated_at": now,
        }
    )
    service.add_navigation(legacy, {"path": "/x"})
    service.list_sessions(client_id, "alice")
    service.end(ref)
    service.end_all(client_id, "alice")


def drive_projects(service: ProjectService, db: Any, redis: Any, client_id: str) -> None:
    ref = ProjectRef.of(client_id, "web", "p1")
    service.save(ref, {"zoom": 1}, expected_version=0)
    second = service.save(ref, {"zoom": 2})
    with pytest.raises(PreconditionFailed):
        service.save(ref, {"zoom": 3}, expected_version=1)
    service.load(ref)
    redis.delete(ref.cache_key)
    service.load(ref)
    redis.delete(ref.cache_key)
    db.project_states.delete_one({"_id": ref.store_id})
    assert service.load(ref).source == "snapshot"
    # The store emptied again: the next first save continues after the snapshots' versions.
    db.project_states.delete_one({"_id": ref.store_id})
    service.save(ref, {"zoom": 4})
    page = service.snapshots(ref, limit=2)
    assert second.snapshot_id is not None
    service.restore(ref, second.snapshot_id)
    assert page.snapshots
    with pytest.raises(ProjectNotFound):
        service.load(ProjectRef.of(client_id, "web", "none"))


def test_services_send_only_what_documentdb_5_supports(
    recorded: tuple[Any, OperatorRecorder], redis: Any, s3: Any, bucket: str, settings: Settings, uid: str
) -> None:
    db, recorder = recorded
    store = MongoStore(db)
    store.ensure_indexes()
    store.ping()
    small = dataclasses.replace(settings, max_state_bytes=4096, navigation_limit=3)
    cache = RedisCache(redis)
    sessions = SessionService(store, cache, small, metrics=Metrics())
    projects = ProjectService(store, cache, S3Snapshots(s3, bucket), small, metrics=Metrics())

    drive_sessions(sessions, db, redis, f"docdb-{uid}")
    drive_projects(projects, db, redis, f"docdb-{uid}")

    # The listener saw the store's traffic: every kind of command and operator the store uses.
    assert {"find", "insert", "findAndModify", "update", "delete", "createIndexes"} <= set(
        recorder.command_names(include_internal=False)
    )
    assert {"$set", "$inc", "$push", "$setOnInsert"} <= recorder.operators("update")
    assert {"$each", "$slice"} <= recorder.operators("update_modifier")
    assert {"$exists", "$expr", "$in"} <= recorder.operators("query")
    assert {"$reduce", "$objectToArray", "$slice", "$concatArrays", "$lte"} <= recorder.operators(
        "expression"
    )
    assert violations(recorder, load_allowlist()) == []
    assert recorder.txn_number_commands() == []


def test_the_migration_sends_only_what_documentdb_5_supports(
    recorded: tuple[Any, OperatorRecorder],
) -> None:
    from stateway.migrate import migrate_database
    from stateway.tiers.mongo_store import INDEXES

    db, recorder = recorded
    first = migrate_database(db)
    again = migrate_database(db)
    assert (first.created, again.created) == (INDEXES, ())
    # What the deploy sends: the index listing and the index creation, and nothing more.
    assert set(recorder.command_names(include_internal=False)) == {"listIndexes", "createIndexes"}
    assert violations(recorder, load_allowlist()) == []
    db.client.drop_database(db.name)
