"""Project-state rules of the contract, over real Redis, the MongoDB-protocol server and S3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stateway.config import Settings
from stateway.errors import (
    InvalidState,
    PayloadTooLarge,
    PreconditionFailed,
    ProjectNotFound,
    SnapshotNotFound,
    StoreUnavailable,
)
from stateway.ids import ProjectRef
from stateway.metrics import Metrics
from stateway.projects import ProjectService
from stateway.tiers.mongo_store import MongoStore
from stateway.tiers.redis_cache import RedisCache
from stateway.tiers.s3_snapshots import S3Snapshots
from stateway_local.servers import MongoServer, MotoS3Server, create_bucket
from stateway_testing.clients import mongo_client, s3_client


@pytest.fixture(params=["single-node", "cluster"])
def redis(request: pytest.FixtureRequest, redis: Any) -> Any:
    """Each test on a single Redis node and on the real 3-master cluster (ElastiCache Serverless's shape)."""
    return redis if request.param == "single-node" else request.getfixturevalue("cluster_redis")


def build(redis: Any, db: Any, s3: Any, settings: Settings, metrics: Metrics | None = None) -> ProjectService:
    assert settings.snapshot_bucket
    return ProjectService(
        MongoStore(db),
        RedisCache(redis),
        S3Snapshots(s3, settings.snapshot_bucket),
        settings,
        metrics=metrics or Metrics(),
    )


@pytest.fixture
def service(redis: Any, mongo_db: Any, s3: Any, settings: Settings) -> ProjectService:
    return build(redis, mongo_db, s3, settings)


@pytest.fixture
def ref(uid: str) -> ProjectRef:
    return ProjectRef.of(f"client-{uid}", "web", "p1")


def test_save_writes_store_cache_and_snapshot(
    service: ProjectService, ref: ProjectRef, redis: Any, mongo_db: Any
) -> None:
    saved = service.save(ref, {"layers": [], "zoom": 3})
    assert saved.version == 1 and saved.snapshot_status == "ok"
    assert saved.snapshot_id is not None and saved.snapshot_id.startswith("1-")
    assert mongo_db.project_states.find_one({"_id": ref.store_id})["state"] == {"layers": [], "zoom": 3}
    assert redis.get(ref.cache_key).startswith(b"1 0 ")
    loaded = service.load(ref)
    assert (loaded.source, loaded.version, loaded.state) == ("cache", 1, {"layers": [], "zoom": 3})
    assert loaded.saved_at == saved.saved_at


def test_load_order_cache_store_snapshot(
    service: ProjectService, ref: ProjectRef, redis: Any, mongo_db: Any
) -> None:
    service.save(ref, {"v": 1})
    service.save(ref, {"v": 2})
    redis.delete(ref.cache_key)
    from_store = service.load(ref)
    assert (from_store.source, from_store.state) == ("store", {"v": 2})
    assert service.load(ref).source == "cache"
    # Cache and store empty: the newest snapshot, and store and cache rebuilt from it.
    redis.delete(ref.cache_key)
    mongo_db.project_states.delete_one({"_id": ref.store_id})
    from_snapshot = service.load(ref)
    assert (from_snapshot.source, from_snapshot.version, from_snapshot.state) == ("snapshot", 2, {"v": 2})
    assert mongo_db.project_states.find_one({"_id": ref.store_id})["version"] == 2
    assert service.load(ref).source == "cache"
    redis.delete(ref.cache_key)
    assert service.load(ref).source == "store"
    # Counting goes on from the rebuilt version.
    assert service.save(ref, {"v": 3}).version == 3


def test_first_save_after_losing_the_store_continues_after_snapshots(
    service: ProjectService, ref: ProjectRef, redis: Any, mongo_db: Any
) -> None:
    for i in range(3):
        service.save(ref, {"v": i})
    redis.delete(ref.cache_key)
    mongo_db.project_states.delete_one({"_id": ref.store_id})
    assert service.save(ref, {"v": "after"}).version == 4
    newest = service.snapshots(ref, limit=1).snapshots[0]
    assert newest.version == 4


def test_unknown_project_is_not_found(service: ProjectService, ref: ProjectRef) -> None:
    with pytest.raises(ProjectNotFound):
        service.load(ref)


def test_snapshots_newest_first_with_cursor_and_restore(service: ProjectService, ref: ProjectRef) -> None:
    for i in range(5):
        service.save(ref, {"v": i})
    page = service.snapshots(ref, limit=2)
    assert [s.version for s in page.snapshots] == [5, 4]
    page2 = service.snapshots(ref, limit=2, before=page.next)
    assert [s.version for s in page2.snapshots] == [3, 2]
    restored = service.restore(ref, page2.snapshots[1].id)
    assert restored.version == 6 and restored.snapshot_status == "ok"
    assert service.load(ref).state == {"v": 1}
    with pytest.raises(SnapshotNotFound):
        service.restore(ref, "99-20261124T120000000Z")


def test_expected_version(service: ProjectService, ref: ProjectRef, mongo_db: Any) -> None:
    service.save(ref, {"v": 1})
    with pytest.raises(PreconditionFailed):
        service.save(ref, {"v": "stale"}, expected_version=0)
    with pytest.raises(PreconditionFailed):
        service.save(ref, {"v": "stale"}, expected_version=5)
    assert mongo_db.project_states.find_one({"_id": ref.store_id})["state"] == {"v": 1}
    assert service.save(ref, {"v": 2}, expected_version=1).version == 2


def test_bad_state_changes_nothing(service: ProjectService, ref: ProjectRef, mongo_db: Any) -> None:
    with pytest.raises(InvalidState):
        service.save(ref, ["not", "an", "object"])
    with pytest.raises(InvalidState):
        service.save(ref, {"a": {"$gt": 1}})
    with pytest.raises(PayloadTooLarge):
        service.save(ref, {"blob": "x" * 300_000})
    assert mongo_db.project_states.find_one({"_id": ref.store_id}) is None


def test_s3_down_save_succeeds_with_snapshot_failed(
    redis: Any, mongo_db: Any, settings: Settings, ref: ProjectRef
) -> None:
    server = MotoS3Server()
    server.start()
    assert settings.snapshot_bucket
    create_bucket(server.endpoint, settings.snapshot_bucket)
    metrics = Metrics()
    service = build(redis, mongo_db, s3_client(server.endpoint), settings, metrics)
    assert service.save(ref, {"v": 1}).snapshot_status == "ok"
    server.stop()
    saved = service.save(ref, {"v": 2})
    assert (saved.version, saved.snapshot_status, saved.snapshot_id) == (2, "failed", None)
    assert metrics.get("snapshot_write_unavailable") == 1
    assert service.load(ref).state == {"v": 2}
    server.start()
    assert service.save(ref, {"v": 3}).snapshot_status == "ok"
    assert [s.version for s in service.snapshots(ref).snapshots] == [3, 1]
    server.stop()


@pytest.fixture
def own_mongo(tmp_path: Path) -> Iterator[MongoServer]:
    with MongoServer(tmp_path / "mongo") as server:
        yield server


def test_store_down_is_unavailable_not_an_old_snapshot(
    own_mongo: MongoServer, redis: Any, s3: Any, settings: Settings, ref: ProjectRef
) -> None:
    client = mongo_client(own_mongo.uri, timeout_ms=2000)
    service = build(redis, client["faults"], s3, settings)
    service.save(ref, {"v": 1})
    own_mongo.stop()
    with pytest.raises(StoreUnavailable):
        service.save(ref, {"v": 2})
    # Cached: served from the cache.
    assert service.load(ref).state == {"v": 1}
    redis.delete(ref.cache_key)
    with pytest.raises(StoreUnavailable):
        service.load(ref)
    assert redis.get(ref.cache_key) is None
    client.close()
