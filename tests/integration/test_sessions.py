"""Session rules of the contract, over real Redis and the MongoDB-protocol server."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from stateway.clock import Clock, utcnow
from stateway.config import Settings
from stateway.errors import (
    CacheBug,
    InvalidKey,
    InvalidState,
    PayloadTooLarge,
    PreconditionFailed,
    SessionNotFound,
    StoreUnavailable,
)
from stateway.ids import SessionRef
from stateway.metrics import Metrics
from stateway.sessions import SessionService
from stateway.tiers.mongo_store import MongoStore
from stateway.tiers.redis_cache import RedisCache, decode_entry
from stateway_local.redis_cluster import RedisClusterServer
from stateway_local.servers import MongoServer, RedisServer
from stateway_testing.clients import mongo_client, redis_client
from stateway_testing.clock import MovableClock


@pytest.fixture(params=["single-node", "cluster"])
def redis(request: pytest.FixtureRequest, redis: Any) -> Any:
    """Each test on a single Redis node and on the real 3-master cluster (ElastiCache Serverless's shape)."""
    return redis if request.param == "single-node" else request.getfixturevalue("cluster_redis")


def build(
    redis: Any, db: Any, settings: Settings, metrics: Metrics | None = None, clock: Clock = utcnow
) -> SessionService:
    store = MongoStore(db)
    store.ensure_indexes()
    return SessionService(store, RedisCache(redis), settings, metrics=metrics or Metrics(), clock=clock)


@pytest.fixture
def service(redis: Any, mongo_db: Any, settings: Settings) -> SessionService:
    return build(
        redis, mongo_db, dataclasses.replace(settings, classifier_config={"model": "m1"}, navigation_limit=5)
    )


@pytest.fixture
def ref(uid: str) -> SessionRef:
    return SessionRef.of(f"client-{uid}", "alice", "web", "p1")


def test_init_builds_defaults_caches_and_persists(
    service: SessionService, ref: SessionRef, redis: Any, mongo_db: Any
) -> None:
    result = service.init(ref, {"locale": "en", "client_id": "spoofed"})
    assert result.created and result.version == 1
    assert result.session_id == f"session:{ref.client_id}:alice:web:p1"
    assert result.namespace == f"namespace:{ref.client_id}:alice"
    assert result.state == {
        "env": {
            "locale": "en",
            "client_id": ref.client_id,
            "user_id": "alice",
            "app_id": "web",
            "project_id": "p1",
        },
        "classifier_config": {"model": "m1"},
        "navigation": [],
    }
    assert decode_entry(redis.get(ref.session_id)).version == 1
    assert redis.smembers(ref.namespace) == {ref.session_id.encode()}
    assert mongo_db.sessions.find_one({"_id": ref.session_id})["state"] == result.state
    again = service.init(ref)
    assert not again.created and again.state == result.state


def test_concurrent_inits_create_once(service: SessionService, ref: SessionRef, mongo_db: Any) -> None:
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(service.init(ref).created)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    assert mongo_db.sessions.count_documents({"_id": ref.session_id}) == 1


def test_state_reads_cache_then_store_then_defaults(
    service: SessionService, ref: SessionRef, redis: Any
) -> None:
    first = service.state(ref)
    assert first.source == "default" and first.version == 1
    assert service.state(ref).source == "cache"
    redis.flushdb()
    from_store = service.state(ref)
    assert from_store.source == "store" and from_store.state == first.state
    # The store refilled the cache.
    assert service.state(ref).source == "cache"


def test_redis_flushed_state_comes_from_the_store(
    service: SessionService, ref: SessionRef, redis: Any
) -> None:
    service.init(ref)
    service.update_key(ref, "theme", "dark")
    redis.flushdb()
    got = service.state(ref)
    assert (got.source, got.version, got.state["theme"]) == ("store", 2, "dark")
    assert decode_entry(redis.get(ref.session_id)).version == 2


def test_update_key_writes_store_then_cache(
    service: SessionService, ref: SessionRef, redis: Any, mongo_db: Any
) -> None:
    service.init(ref)
    updated = service.update_key(ref, "filters", {"tags": ["a", "b"], "empty": []})
    assert updated.version == 2
    assert mongo_db.sessions.find_one({"_id": ref.session_id})["state"]["filters"] == {
        "tags": ["a", "b"],
        "empty": [],
    }
    cached = service.state(ref)
    assert cached.source == "cache" and cached.state["filters"] == {"tags": ["a", "b"], "empty": []}


def test_navigation_appends_and_keeps_the_limit(service: SessionService, ref: SessionRef) -> None:
    service.init(ref)
    for i in range(8):
        last = service.add_navigation(ref, {"path": f"/p{i}"})
    assert [e["path"] for e in last.state["navigation"]] == [f"/p{i}" for i in range(3, 8)]
    assert last.version == 9


def test_eight_threads_eight_keys_fifty_times_lose_nothing(service: SessionService, ref: SessionRef) -> None:
    service.init(ref)

    def writer(k: int) -> None:
        for i in range(50):
            service.update_key(ref, f"k{k}", i)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = service.state(ref)
    assert final.version == 1 + 400
    assert all(final.state[f"k{k}"] == 49 for k in range(8))
    assert final.source == "cache"


def test_expected_version_mismatch_changes_nothing(
    service: SessionService, ref: SessionRef, mongo_db: Any
) -> None:
    service.init(ref)
    with pytest.raises(PreconditionFailed):
        service.update_key(ref, "k", 1, expected_version=5)
    doc = mongo_db.sessions.find_one({"_id": ref.session_id})
    assert doc["version"] == 1 and "k" not in doc["state"]
    assert service.update_key(ref, "k", 1, expected_version=1).version == 2


@pytest.mark.parametrize("key", ["a.b", "$set", "nav:x", "1st", ""])
def test_bad_keys_change_nothing(service: SessionService, ref: SessionRef, key: str, mongo_db: Any) -> None:
    service.init(ref)
    with pytest.raises(InvalidKey):
        service.update_key(ref, key, 1)
    assert mongo_db.sessions.find_one({"_id": ref.session_id})["version"] == 1


def test_bad_values_and_sizes_change_nothing(service: SessionService, ref: SessionRef, mongo_db: Any) -> None:
    service.init(ref)
    with pytest.raises(InvalidState):
        service.update_key(ref, "v", {"$where": "1"})
    with pytest.raises(InvalidState):
        service.update_key(ref, "navigation", "not a list")
    with pytest.raises(PayloadTooLarge):
        service.update_key(ref, "v", "x" * 300_000)
    assert mongo_db.sessions.find_one({"_id": ref.session_id})["version"] == 1


def test_update_of_unknown_session_is_not_found(
    service: SessionService, ref: SessionRef, mongo_db: Any
) -> None:
    with pytest.raises(SessionNotFound):
        service.update_key(ref, "k", 1)
    assert mongo_db.sessions.find_one({"_id": ref.session_id}) is None


def test_end_removes_everywhere_and_is_idempotent(
    service: SessionService, ref: SessionRef, redis: Any, mongo_db: Any
) -> None:
    service.init(ref)
    service.end(ref)
    assert redis.get(ref.session_id) is None
    assert not redis.sismember(ref.namespace, ref.session_id)
    assert mongo_db.sessions.find_one({"_id": ref.session_id}) is None
    service.end(ref)


def test_list_and_end_all(service: SessionService, ref: SessionRef, redis: Any) -> None:
    other = SessionRef.of(ref.client_id, "alice", "web", "p2")
    bob = SessionRef.of(ref.client_id, "bob", "web", "p1")
    for r in (ref, other, bob):
        service.init(r)
    listed = service.list_sessions(ref.client_id, "alice")
    assert listed.namespace == ref.namespace
    assert {s.session_id for s in listed.sessions} == {ref.session_id, other.session_id}
    ended = service.end_all(ref.client_id, "alice")
    assert sorted(ended) == sorted([ref.session_id, other.session_id])
    assert service.list_sessions(ref.client_id, "alice").sessions == []
    assert redis.exists(ref.namespace, ref.session_id, other.session_id) == 0
    assert [s.session_id for s in service.list_sessions(ref.client_id, "bob").sessions] == [bob.session_id]


# Faults: servers of the test's own, stopped mid-test. ---------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def own_mongo(tmp_path: Path) -> Iterator[MongoServer]:
    with MongoServer(tmp_path / "mongo") as server:
        yield server


def test_redis_down_reads_and_writes_go_through_the_store(
    own_redis: RedisServer, mongo_db: Any, settings: Settings, ref: SessionRef
) -> None:
    metrics = Metrics()
    client = redis_client(own_redis.url)
    service = build(client, mongo_db, settings, metrics)
    service.init(ref)
    own_redis.stop()
    assert service.update_key(ref, "k", "v").version == 2
    got = service.state(ref)
    assert (got.source, got.state["k"]) == ("store", "v")
    assert service.add_navigation(ref, {"path": "/x"}).version == 3
    assert metrics.get("cache_write_unavailable") >= 2
    assert metrics.get("cache_read_unavailable") >= 1
    own_redis.start()
    assert service.state(ref).source == "store"
    assert service.state(ref).source == "cache"
    client.close()


def test_mongo_down_write_fails_and_cache_is_left_as_it_was(
    own_mongo: MongoServer, redis: Any, settings: Settings, ref: SessionRef
) -> None:
    client = mongo_client(own_mongo.uri, timeout_ms=2000)
    service = build(redis, client["faults"], settings)
    service.init(ref)
    before = redis.get(ref.session_id)
    own_mongo.stop()
    with pytest.raises(StoreUnavailable):
        service.update_key(ref, "k", "v")
    with pytest.raises(StoreUnavailable):
        service.add_navigation(ref, {"path": "/x"})
    assert redis.get(ref.session_id) == before
    # A read with the key cached is served from the cache.
    assert service.state(ref).source == "cache"
    # A read with nothing cached fails as unavailable and writes nothing.
    unknown = SessionRef.of(ref.client_id, "alice", "web", "never-seen")
    with pytest.raises(StoreUnavailable):
        service.state(unknown)
    with pytest.raises(StoreUnavailable):
        service.init(unknown)
    assert redis.get(unknown.session_id) is None
    own_mongo.start()
    assert client["faults"].sessions.find_one({"_id": unknown.session_id}) is None
    assert service.update_key(ref, "k", "v").version == 2
    client.close()


# The cluster: keys of one user on every master; one master stopped. -------------------


def test_on_the_cluster_end_all_removes_every_cached_copy_from_every_master(
    redis_cluster: RedisClusterServer, cluster_redis: Any, mongo_db: Any, settings: Settings, uid: str
) -> None:
    service = build(cluster_redis, mongo_db, settings)
    client_id = f"client-{uid}"
    refs = [SessionRef.of(client_id, "alice", "web", f"p{i}") for i in range(12)]
    masters = {redis_cluster.node_for_key(r.session_id) for r in refs}
    assert masters == {0, 1, 2}
    for r in refs:
        service.init(r)
        assert service.state(r).source == "cache"
    ended = service.end_all(client_id, "alice")
    assert sorted(ended) == sorted(r.session_id for r in refs)
    for port in redis_cluster.ports:
        node = redis_client(f"redis://127.0.0.1:{port}/0")
        try:
            owned = [
                r.session_id
                for r in refs
                if redis_cluster.ports[redis_cluster.node_for_key(r.session_id)] == port
            ]
            assert owned and all(node.exists(k) == 0 for k in owned)
        finally:
            node.close()
    assert cluster_redis.exists(refs[0].namespace) == 0
    assert service.list_sessions(client_id, "alice").sessions == []


def test_a_stopped_master_reads_and_writes_go_through_the_store(
    tmp_path: Path, mongo_db: Any, settings: Settings, uid: str
) -> None:
    # cluster-require-full-coverage no: the other masters go on serving their slots.
    with RedisClusterServer(
        tmp_path / "cluster", node_timeout_ms=1000, require_full_coverage=False
    ) as cluster:
        client = redis_client(cluster.url, cluster=True)
        metrics = Metrics()
        service = build(client, mongo_db, settings, metrics)
        refs = [SessionRef.of(f"client-{uid}", "alice", "web", f"p{i}") for i in range(9)]
        for r in refs:
            service.init(r)
        down = cluster.node_for_key(refs[0].session_id)
        on_dead = [r for r in refs if cluster.node_for_key(r.session_id) == down]
        cluster.stop_node(down)
        try:
            # While the cluster has not noticed (the master refuses), and after it marked it failed.
            for phase in ("refused", "marked failed"):
                if phase == "marked failed":
                    cluster.wait_marked_failed(down)
                for r in refs:
                    got = service.update_key(r, "phase", phase)
                    read = service.state(r)
                    expected = "store" if r in on_dead else "cache"
                    assert (read.source, read.version, read.state["phase"]) == (expected, got.version, phase)
            assert metrics.get("cache_write_unavailable") >= 2 * len(on_dead)
            assert metrics.get("cache_read_unavailable") >= 2 * len(on_dead)
        finally:
            cluster.start_node(down)
        cluster.wait_state("ok", timeout=30)
        # The restarted master is empty: a read refills it, the next is served by it.
        for r in refs:
            first, second = service.state(r), service.state(r)
            assert (first.source, second.source) == ("store" if r in on_dead else "cache", "cache")
            assert first.version == second.version == 3
        client.close()


@contextmanager
def a_cluster_down_spell(
    tmp_path: Path, mongo_db: Any, settings: Settings, uid: str, *, clock: Clock = utcnow
) -> Iterator[tuple[SessionService, list[SessionRef], Callable[[], None]]]:
    """Six sessions cached on a cluster, then one master stopped until the cluster is down.

    Full coverage required (Redis's default): one master down takes the whole cluster
    down. The body runs while it is down, and may call the third value to bring the
    master back and wait for the cluster to be ok (done on the way out otherwise).
    """
    with RedisClusterServer(tmp_path / "cluster", node_timeout_ms=1000) as cluster:
        client = redis_client(cluster.url, cluster=True)
        try:
            service = build(client, mongo_db, settings, clock=clock)
            refs = [SessionRef.of(f"client-{uid}", "alice", "web", f"p{i}") for i in range(6)]
            for r in refs:
                service.init(r)
            down = cluster.node_for_key(refs[0].session_id)

            def recover() -> None:
                cluster.start_node(down, wait=False)
                cluster.wait_state("ok", timeout=30)

            cluster.stop_node(down)
            try:
                cluster.wait_state("fail", timeout=20)
                yield service, refs, recover
            finally:
                recover()
        finally:
            client.close()


def test_a_cluster_that_is_down_serves_every_read_and_write_from_the_store(
    tmp_path: Path, mongo_db: Any, settings: Settings, uid: str
) -> None:
    with a_cluster_down_spell(tmp_path, mongo_db, settings, uid) as (service, refs, _):
        for r in refs:
            got = service.update_key(r, "theme", "dark")
            read = service.state(r)
            assert (read.source, read.version, read.state["theme"]) == ("store", got.version, "dark")
        assert service.init(SessionRef.of(f"client-{uid}", "alice", "web", "new")).created


def test_after_the_cluster_recovers_no_read_serves_an_older_version_past_the_verify_window(
    tmp_path: Path, mongo_db: Any, settings: Settings, uid: str
) -> None:
    """Bounded staleness: the writes' cache step failed; the masters that kept their data hold
    version 1. A cached entry answers alone only for STATEWAY_CACHE_VERIFY_SECONDS after the
    store confirmed it; after that every read checks it, and the store's version replaces it."""
    clock = MovableClock()
    with a_cluster_down_spell(tmp_path, mongo_db, settings, uid, clock=clock) as (service, refs, recover):
        for r in refs:
            service.update_key(r, "theme", "dark")
        recover()
        # Within the window, an entry written before the outage may still answer (measured, not promised).
        early = [service.state(r).version for r in refs]
        assert set(early) <= {1, 2}
        clock.cross_the_window(settings)
        assert [(service.state(r).version, service.state(r).state["theme"]) for r in refs] == [
            (2, "dark")
        ] * len(refs)
        # Checked once, the entries are trusted again: the next reads are cache hits of version 2.
        assert {(service.state(r).source, service.state(r).version) for r in refs} == {("cache", 2)}


# A cache error that is a bug is never a miss. ------------------------------------------


@pytest.mark.logs_errors
def test_a_cache_bug_fails_a_read_and_never_leaves_an_old_entry_after_a_write(
    service: SessionService, ref: SessionRef, redis: Any, mongo_db: Any, error_logs: list[Any]
) -> None:
    service.init(ref)
    redis.delete(ref.session_id)
    redis.sadd(ref.session_id, "someone else's set at our key")
    with pytest.raises(CacheBug):
        service.state(ref)
    # A write commits in the store, logs the cache's error and drops the key.
    written = service.update_key(ref, "theme", "dark")
    assert written.version == 2
    assert mongo_db.sessions.find_one({"_id": ref.session_id})["version"] == 2
    assert redis.exists(ref.session_id) == 0
    assert [r.getMessage() for r in error_logs] == [
        f"cache write of {ref.session_id} version 2 failed: a bug"
    ]
    assert error_logs[0].exc_info is not None and error_logs[0].exc_info[0] is CacheBug
    got = service.state(ref)
    assert (got.source, got.version) == ("store", 2)
    assert service.state(ref).source == "cache"
