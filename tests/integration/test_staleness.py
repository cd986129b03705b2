"""Bounded staleness: after a cache step that failed, no read serves an older version for longer
than STATEWAY_CACHE_VERIFY_SECONDS once both tiers answer again.

Real servers: a Redis of the test's own, reached through a loopback forwarder that the test
cuts while a write or an end runs (``stateway_testing.partition``: the server keeps its data and
nothing reaches it, as in a network partition) and heals in a ``finally``; for the late write, a
MongoDB-protocol server of its own, frozen with SIGSTOP while an update waits on it (it applies
the update when SIGCONT resumes it). The services read time from a clock the test moves forward, so the
window is crossed without waiting it out (``tests/e2e/test_hung_cache.py`` measures it in real
time through the gateway).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from stateway.clock import utcnow
from stateway.config import Settings
from stateway.errors import StoreUnavailable
from stateway.ids import ProjectRef, SessionRef
from stateway.metrics import Metrics
from stateway.projects import ProjectService
from stateway.sessions import SessionService
from stateway.tiers.mongo_store import MongoStore
from stateway.tiers.redis_cache import RedisCache, decode_entry
from stateway.tiers.s3_snapshots import S3Snapshots
from stateway_local.servers import MongoServer, RedisServer
from stateway_testing.clients import mongo_client, redis_client
from stateway_testing.clock import MovableClock
from stateway_testing.partition import Partition


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def partition(own_redis: RedisServer) -> Iterator[Partition]:
    with Partition(own_redis.port) as forwarder:
        yield forwarder


@pytest.fixture
def cache_client(partition: Partition) -> Iterator[Any]:
    client = redis_client(partition.url, timeout_ms=300)
    yield client
    client.close()


@pytest.fixture
def direct(own_redis: RedisServer) -> Iterator[Any]:
    """The test's own look at the server, never cut off."""
    client = redis_client(own_redis.url)
    yield client
    client.close()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def sessions(
    cache_client: Any, mongo_db: Any, settings: Settings, clock: MovableClock, metrics: Metrics
) -> SessionService:
    return SessionService(
        MongoStore(mongo_db), RedisCache(cache_client), settings, clock=clock, metrics=metrics
    )


@pytest.fixture
def ref(uid: str) -> SessionRef:
    return SessionRef.of(f"client-{uid}", "alice", "web", "p1")


@contextmanager
def frozen(server: Any) -> Iterator[None]:
    server.pause()
    try:
        yield
    finally:
        server.resume()


def cached_version(client: Any, key: str) -> int | None:
    raw = client.get(key)
    return None if raw is None else decode_entry(raw).version


def test_an_update_whose_cache_step_failed(
    sessions: SessionService,
    ref: SessionRef,
    partition: Partition,
    direct: Any,
    mongo_db: Any,
    settings: Settings,
    clock: MovableClock,
    metrics: Metrics,
) -> None:
    sessions.init(ref)
    with partition.cut_off():
        written = sessions.update_key(ref, "theme", "dark")
    assert written.version == 2
    assert metrics.get("cache_write_unavailable") == 1
    assert cached_version(direct, ref.session_id) == 1  # the cache missed the write
    # Inside the window the cached entry answers alone: version 1, at most that long.
    assert (sessions.state(ref).source, sessions.state(ref).version) == ("cache", 1)
    clock.cross_the_window(settings)
    checked = sessions.state(ref)
    assert (checked.source, checked.version, checked.state["theme"]) == ("store", 2, "dark")
    assert cached_version(direct, ref.session_id) == 2
    assert (sessions.state(ref).source, sessions.state(ref).version) == ("cache", 2)


def test_a_navigation_entry_whose_cache_step_failed(
    sessions: SessionService, ref: SessionRef, partition: Partition, settings: Settings, clock: MovableClock
) -> None:
    sessions.init(ref)
    with partition.cut_off():
        sessions.add_navigation(ref, {"path": "/home"})
    clock.cross_the_window(settings)
    assert sessions.state(ref).state["navigation"] == [{"path": "/home"}]


def test_an_end_whose_cache_step_failed_and_the_session_created_again(
    sessions: SessionService,
    ref: SessionRef,
    partition: Partition,
    direct: Any,
    mongo_db: Any,
    settings: Settings,
    clock: MovableClock,
) -> None:
    sessions.init(ref)
    for n in range(4):
        sessions.update_key(ref, "n", n)
    assert cached_version(direct, ref.session_id) == 5
    with partition.cut_off():
        sessions.end(ref)
    assert mongo_db.sessions.find_one({"_id": ref.session_id}) is None
    assert cached_version(direct, ref.session_id) == 5  # the ended session is still cached
    # An init asks the store: the session does not exist, it is created (version 1)...
    init = sessions.init(ref)
    assert (init.created, init.version) == (True, 1)
    assert "n" not in init.state
    # ... and its entry, a newer generation, replaced the ended one's version 5 at once.
    assert cached_version(direct, ref.session_id) == 1
    updated = sessions.update_key(ref, "theme", "dark")
    assert updated.version == 2
    read = sessions.state(ref)
    assert (read.source, read.version, read.state.get("n")) == ("cache", 2, None)


def test_an_ended_session_is_not_read_back_past_the_window(
    sessions: SessionService,
    ref: SessionRef,
    partition: Partition,
    direct: Any,
    settings: Settings,
    clock: MovableClock,
) -> None:
    sessions.init(ref)
    sessions.update_key(ref, "theme", "dark")
    with partition.cut_off():
        sessions.end(ref)
    clock.cross_the_window(settings)
    # The store no longer holds it: the check removes the entry, and the state is the defaults.
    read = sessions.state(ref)
    assert (read.source, read.version) == ("default", 1)
    assert "theme" not in read.state


def test_an_init_never_reports_a_session_the_store_does_not_hold(
    sessions: SessionService, ref: SessionRef, partition: Partition, mongo_db: Any
) -> None:
    sessions.init(ref)
    with partition.cut_off():
        sessions.end(ref)
    # Well within the window: the entry is there, but an init always asks the store.
    assert sessions.init(ref).created is True


def test_a_sliding_ttl_never_makes_an_entry_trusted_longer(
    sessions: SessionService, ref: SessionRef, mongo_db: Any, settings: Settings, clock: MovableClock
) -> None:
    """Reads keep sliding the entry's TTL; an entry the store changed behind the cache's back
    (here by hand) is still replaced once its window is over."""
    sessions.init(ref)
    for _ in range(3):
        assert sessions.state(ref).source == "cache"
    mongo_db.sessions.update_one(
        {"_id": ref.session_id}, {"$set": {"state.theme": "set-elsewhere"}, "$inc": {"version": 1}}
    )
    assert sessions.state(ref).version == 1
    clock.cross_the_window(settings)
    read = sessions.state(ref)
    assert (read.version, read.state["theme"]) == (2, "set-elsewhere")


def test_a_project_save_whose_cache_step_failed(
    cache_client: Any,
    partition: Partition,
    mongo_db: Any,
    s3: Any,
    settings: Settings,
    clock: MovableClock,
    uid: str,
) -> None:
    assert settings.snapshot_bucket
    projects = ProjectService(
        MongoStore(mongo_db),
        RedisCache(cache_client),
        S3Snapshots(s3, settings.snapshot_bucket),
        settings,
        clock=clock,
        metrics=Metrics(),
    )
    ref = ProjectRef.of(f"client-{uid}", "web", "p1")
    projects.save(ref, {"zoom": 1})
    assert projects.load(ref).source == "cache"
    with partition.cut_off():
        saved = projects.save(ref, {"zoom": 2})
    assert (saved.version, saved.snapshot_status) == (2, "ok")
    assert projects.load(ref).version == 1
    clock.cross_the_window(settings)
    loaded = projects.load(ref)
    assert (loaded.source, loaded.version, loaded.state) == ("store", 2, {"zoom": 2})


def test_a_write_that_lands_late_in_a_hung_store(
    tmp_path: Path, cache_client: Any, settings: Settings, clock: MovableClock, uid: str
) -> None:
    """The update waits on a frozen store and answers 503; the store applies it when it resumes.
    The cache, which never saw it, serves it once the window is over."""
    with MongoServer(tmp_path / "mongo") as mongo:
        client = mongo_client(mongo.uri, timeout_ms=1000)
        try:
            db = client["stateway"]
            sessions = SessionService(
                MongoStore(db),
                RedisCache(cache_client),
                dataclasses.replace(settings, mongodb_timeout_ms=1000),
                clock=clock,
                metrics=Metrics(),
            )
            ref = SessionRef.of(f"client-{uid}", "alice", "web", "p1")
            sessions.init(ref)
            with frozen(mongo), pytest.raises(StoreUnavailable):
                sessions.update_key(ref, "theme", "dark")
            # Resumed: the server applied what it had received.
            deadline = utcnow() + timedelta(seconds=10)
            while db.sessions.find_one({"_id": ref.session_id})["version"] != 2:
                assert utcnow() < deadline, "the frozen store never applied the update"
            assert sessions.state(ref).version == 1  # the cache's copy, inside the window
            clock.cross_the_window(settings)
            read = sessions.state(ref)
            assert (read.source, read.version, read.state["theme"]) == ("store", 2, "dark")
        finally:
            client.close()


def test_a_store_that_cannot_answer_the_check_is_served_around(
    tmp_path: Path, cache_client: Any, settings: Settings, clock: MovableClock, metrics: Metrics, uid: str
) -> None:
    with MongoServer(tmp_path / "mongo") as mongo:
        client = mongo_client(mongo.uri, timeout_ms=500)
        try:
            sessions = SessionService(
                MongoStore(client["stateway"]),
                RedisCache(cache_client),
                settings,
                clock=clock,
                metrics=metrics,
            )
            ref = SessionRef.of(f"client-{uid}", "alice", "web", "p1")
            sessions.init(ref)
            clock.cross_the_window(settings)
            mongo.stop()
            read = sessions.state(ref)
            assert (read.source, read.version) == ("cache", 1)
            assert metrics.get("store_verify_unavailable") == 1
            # For a moment the process does not ask the store again: the next read is a plain hit.
            assert sessions.state(ref).source == "cache"
            assert metrics.get("store_verify_unavailable") == 1
        finally:
            client.close()
