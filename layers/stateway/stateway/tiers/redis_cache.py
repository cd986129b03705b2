"""The Redis cache tier.

A cached entry is one Redis string: ``b"<version>\\n<compact JSON>"``. The
version prefix lets a Lua script refuse to replace a newer entry with an older
one without decoding JSON inside Redis (Redis's cjson turns ``[]`` into ``{}``
and rounds big integers, so the JSON itself is never touched there).

Reads that slide the TTL use ``GETEX key EX ttl``: one command, one round trip.
Every client error becomes :class:`~stateway.errors.CacheUnavailable`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from stateway.errors import CacheUnavailable

# KEYS[1] entry key; ARGV[1] version; ARGV[2] entry; ARGV[3] ttl seconds;
# optional KEYS[2] namespace set, ARGV[4] member to add to it.
_SET_IF_NOT_OLDER = """
local cur = redis.call('GET', KEYS[1])
if cur then
  local nl = string.find(cur, '\\n', 1, true)
  if nl then
    local v = tonumber(string.sub(cur, 1, nl - 1))
    if v and v > tonumber(ARGV[1]) then
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
if KEYS[2] then
  redis.call('SADD', KEYS[2], ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
return 1
"""


class ScriptLike(Protocol):
    def __call__(self, keys: list[str], args: list[Any]) -> Any: ...


class RedisPipelineLike(Protocol):
    def delete(self, *names: str) -> Any: ...
    def srem(self, name: str, *values: str) -> Any: ...
    def execute(self) -> list[Any]: ...


class RedisClientLike(Protocol):
    """The part of ``redis.Redis`` this tier uses."""

    def get(self, name: str) -> Any: ...
    def getex(self, name: str, ex: int | None = None) -> Any: ...
    def delete(self, *names: str) -> Any: ...
    def smembers(self, name: str) -> Any: ...
    def ping(self) -> Any: ...
    def register_script(self, script: str) -> Any: ...
    def pipeline(self, transaction: bool = True) -> Any: ...


@dataclass(frozen=True, slots=True)
class CachedEntry:
    version: int
    payload: bytes
    """The compact JSON document, exactly as it was cached."""


def encode_entry(version: int, payload: bytes) -> bytes:
    return b"%d\n%s" % (version, payload)


def decode_entry(raw: bytes) -> CachedEntry | None:
    """Split a cached value; ``None`` for a value not in the entry format."""
    head, sep, payload = raw.partition(b"\n")
    if not sep or not head.isdigit():
        return None
    return CachedEntry(int(head), payload)


@contextmanager
def _translate_errors(action: str) -> Iterator[None]:
    # Imported here so that the module imports without redis installed (typing only).
    from redis.exceptions import RedisError

    try:
        yield
    except RedisError as exc:
        raise CacheUnavailable(f"The cache could not {action}.") from exc
    except OSError as exc:
        raise CacheUnavailable(f"The cache could not {action}.") from exc


class RedisCache:
    """Versioned JSON entries and namespace sets in Redis."""

    def __init__(self, client: RedisClientLike) -> None:
        self._client = client
        self._set_script: ScriptLike = client.register_script(_SET_IF_NOT_OLDER)

    @property
    def client(self) -> RedisClientLike:
        return self._client

    def get(self, key: str, *, slide_ttl: int | None = None) -> CachedEntry | None:
        """Return the entry at ``key``; with ``slide_ttl`` reset its TTL in the same command."""
        with _translate_errors("read"):
            raw = self._client.getex(key, ex=slide_ttl) if slide_ttl else self._client.get(key)
        if raw is None:
            return None
        return decode_entry(raw)

    def put(
        self,
        key: str,
        version: int,
        payload: bytes,
        ttl: int,
        *,
        namespace: str | None = None,
        member: str | None = None,
    ) -> bool:
        """Cache ``payload`` at ``version`` unless a newer version is cached.

        With ``namespace`` and ``member``, also add ``member`` to that set (same
        script, same round trip). Returns False when a newer entry was kept.
        """
        keys = [key]
        args: list[Any] = [version, encode_entry(version, payload), ttl]
        if namespace is not None and member is not None:
            keys.append(namespace)
            args.append(member)
        with _translate_errors("write"):
            return bool(self._set_script(keys=keys, args=args))

    def delete(self, *keys: str, namespace: str | None = None, members: tuple[str, ...] = ()) -> None:
        """Delete ``keys`` and remove ``members`` from ``namespace``, in one round trip."""
        with _translate_errors("delete"):
            pipe = self._client.pipeline(transaction=False)
            if keys:
                pipe.delete(*keys)
            if namespace is not None and members:
                pipe.srem(namespace, *members)
            pipe.execute()

    def namespace_members(self, namespace: str) -> set[str]:
        with _translate_errors("read"):
            raw = self._client.smembers(namespace)
        return {m.decode() if isinstance(m, bytes) else str(m) for m in raw}

    def ping(self) -> bool:
        with _translate_errors("answer"):
            return bool(self._client.ping())


def make_redis_client(url: str, *, timeout_ms: int) -> Any:
    """A ``redis.Redis`` from ``url`` with explicit socket timeouts (hiredis parser when present)."""
    import redis

    timeout = timeout_ms / 1000
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        retry_on_timeout=False,
    )
