"""The Redis cache tier, on a single node or a Redis Cluster (ElastiCache Serverless is one).

A cached entry is one Redis string: ``b"<version> <generation> <verified>\n<compact
JSON>"``. The version and the generation (the store's creation time of the
document, in milliseconds: a session ended and created again is a new
generation) let a Lua script refuse to replace a newer entry with an older one
without decoding JSON inside Redis (Redis's cjson turns ``[]`` into ``{}`` and
rounds big integers, so the JSON itself is never touched there). ``verified``
is when the store last confirmed the entry (Unix milliseconds): a reader trusts
an entry only for a while after that (:mod:`stateway.tiered`). An entry of the
first format, ``b"<version>\n<JSON>"``, reads as generation 0, never verified.

No command touches two keys, so every command routes to one hash slot on a
cluster: the version-guarded write is a one-key script, and namespace
maintenance and deletes are single-key commands sent in one pipeline (a
cluster client splits it by node). Reads that slide the TTL use
``GETEX key EX ttl``: one command, one round trip.

Errors are sorted at this boundary (:func:`classify`): an outage (refused,
timed out, cluster down, a redirect the client could not follow) is
:class:`~stateway.errors.CacheUnavailable`; anything else (a script error,
``WRONGTYPE``, ``CROSSSLOT``, a cluster client that cannot route a command) is
:class:`~stateway.errors.CacheBug`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from stateway.errors import CacheBug, CacheUnavailable
from stateway.ids import INT_MAX_DIGITS
from stateway.metrics import METRICS

if TYPE_CHECKING:
    from stateway.breaker import CircuitBreaker

# The head of an entry as Lua reads it: version and generation (0 when absent), or nil.
_HEAD = """
local function head(value)
  local nl = string.find(value, '\\n', 1, true)
  if not nl then return nil end
  local v, g = string.match(string.sub(value, 1, nl - 1), '^(%d+) ?(%d*)')
  if not v then return nil end
  return tonumber(v), tonumber(g) or 0
end
"""

# KEYS[1] entry key; ARGV[1] version; ARGV[2] generation; ARGV[3] entry; ARGV[4] ttl seconds;
# ARGV[5], ARGV[6]: the version and generation the caller saw cached ("" if none), which it may
# replace even when newer (the store said otherwise). A newer (generation, version) is kept.
_SET_IF_NOT_OLDER = (
    _HEAD
    + """
local cur = redis.call('GET', KEYS[1])
if cur then
  local v, g = head(cur)
  if v and not (ARGV[5] ~= '' and v == tonumber(ARGV[5]) and g == tonumber(ARGV[6])) then
    local nv, ng = tonumber(ARGV[1]), tonumber(ARGV[2])
    if g > ng or (g == ng and v > nv) then
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
return 1
"""
)
_SET_IF_NOT_OLDER_SHA = hashlib.sha1(_SET_IF_NOT_OLDER.encode()).hexdigest()

# KEYS[1] entry key; ARGV[1] version; ARGV[2] generation: delete the entry only if it is still
# that one (the store no longer holds it; a writer may have cached a new one meanwhile).
_DELETE_IF_UNCHANGED = (
    _HEAD
    + """
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local v, g = head(cur)
if v == tonumber(ARGV[1]) and g == tonumber(ARGV[2]) then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
)
_DELETE_IF_UNCHANGED_SHA = hashlib.sha1(_DELETE_IF_UNCHANGED.encode()).hexdigest()


class RedisClientLike(Protocol):
    """The part of ``redis.Redis`` and ``redis.cluster.RedisCluster`` this tier uses."""

    def get(self, name: str) -> Any: ...
    def getex(self, name: str, ex: int | None = None) -> Any: ...
    def smembers(self, name: str) -> Any: ...
    def evalsha(self, sha: str, numkeys: int, *keys_and_args: Any) -> Any: ...
    def script_load(self, script: str) -> Any: ...
    def execute_command(self, *args: Any) -> Any: ...
    def pipeline(self, transaction: bool = True) -> Any: ...
    def ping(self, **kwargs: Any) -> Any: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Entry:
    version: int
    payload: bytes
    """The compact JSON document, exactly as it was cached."""
    generation: int = 0
    """The store's creation time of the document (ms): a re-created session is a newer generation."""
    verified: int = 0
    """When the store last confirmed this entry (Unix ms); 0: never (an entry of the first format)."""

    def verified_at(self, verified: int) -> Entry:
        return Entry(self.version, self.payload, self.generation, verified)


def encode_entry(version: int, payload: bytes, generation: int = 0, verified: int = 0) -> bytes:
    return b"%d %d %d\n%s" % (version, generation, verified, payload)


def decode_entry(raw: bytes) -> Entry | None:
    """Split a cached value; ``None`` for a value not in an entry format."""
    head, sep, payload = raw.partition(b"\n")
    if not sep:
        return None
    fields = head.split(b" ")
    # Each number is at most INT_MAX_DIGITS ASCII digits: anything else at the key is not ours.
    if len(fields) not in (1, 3) or not all(f.isdigit() and len(f) <= INT_MAX_DIGITS for f in fields):
        return None
    if len(fields) == 1:
        return Entry(int(fields[0]), payload)
    return Entry(int(fields[0]), payload, int(fields[1]), int(fields[2]))


Kind = Literal["unavailable", "bug"]


def classify(exc: BaseException) -> Kind:
    """Whether a client error is an outage (served around) or a bug (never hidden).

    Outages: the connection failed or timed out (not a failed login), the
    cluster is down or moving slots (``CLUSTERDOWN``, ``TRYAGAIN``, a
    ``MOVED``/``ASK`` the client could not follow, a read-only replica
    mid-failover, a slot no node covers), the node is loading or out of
    memory, or the cluster client could not reach any node. Everything else
    is a bug.
    """
    from redis import exceptions as rx

    if isinstance(exc, rx.AuthenticationError | rx.AuthorizationError):
        return "bug"
    if isinstance(
        exc,
        rx.ConnectionError
        | rx.TimeoutError
        | rx.ClusterDownError
        | rx.TryAgainError
        | rx.AskError
        | rx.ReadOnlyError
        | rx.OutOfMemoryError
        | rx.SlotNotCoveredError
        | OSError,
    ):
        return "unavailable"
    if isinstance(exc, rx.RedisClusterException):
        # The cluster client wraps "no startup node answered" around the connection
        # error; and a cluster that lost a master has slots that no node covers.
        cause = exc.__cause__
        if cause is not None and cause is not exc and classify(cause) == "unavailable":
            return "unavailable"
        if str(exc).startswith("All slots are not covered"):
            return "unavailable"
    return "bug"


def translate(exc: BaseException, action: str, *, cluster: bool = True) -> CacheUnavailable | CacheBug:
    """The Stateway error for a client error (raise it ``from exc``).

    A single-node client (``cluster=False``) that is redirected (``MOVED``,
    ``ASK``) talks to a cluster: a misconfiguration (``STATEWAY_REDIS_CLUSTER``
    unset), never an outage.
    """
    from redis.exceptions import AskError

    if not cluster and isinstance(exc, AskError):
        return CacheBug(f"The cache refused to {action}: a cluster needs STATEWAY_REDIS_CLUSTER=true.")
    if classify(exc) == "unavailable":
        return CacheUnavailable(f"The cache could not {action}.")
    return CacheBug(f"The cache refused to {action}: {type(exc).__name__}.")


@contextmanager
def _translate_errors(action: str, *, cluster: bool) -> Iterator[None]:
    # Imported here so that the module imports without redis installed (typing only).
    from redis.exceptions import RedisClusterException, RedisError

    try:
        yield
    except (RedisError, RedisClusterException, OSError) as exc:
        raise translate(exc, action, cluster=cluster) from exc


class RedisCache:
    """Versioned JSON entries and namespace sets in Redis, one key per command."""

    def __init__(self, client: RedisClientLike, *, breaker: CircuitBreaker | None = None) -> None:
        self._client = client
        self._breaker = breaker
        # A cluster client knows which node holds a key (looked up on the type: a LazyClient
        # would build its client to answer).
        self._cluster = isinstance(client, LazyClient) or hasattr(type(client), "get_node_from_key")

    @contextmanager
    def _command(self, action: str) -> Iterator[None]:
        """One command: through the breaker (when there is one), its errors sorted."""
        with (
            METRICS.timed("cache"),
            self._breaker.guard() if self._breaker else nullcontext(),
            _translate_errors(action, cluster=self._cluster),
        ):
            yield

    def get(self, key: str, *, slide_ttl: int | None = None) -> Entry | None:
        """Return the entry at ``key``; with ``slide_ttl`` reset its TTL in the same command."""
        with self._command("read"):
            raw = self._read(key, slide_ttl)
        if raw is None:
            return None
        return decode_entry(raw)

    def _read(self, key: str, slide_ttl: int | None) -> Any:
        if self._cluster:
            # The hot read, straight to the master the cluster client's own slot map names:
            # the cluster client's per-command machinery costs more than the read itself
            # (bench/README.md). A redirect or a refused connection means the map is out
            # of date: the cluster client then sends the command, following the redirect
            # and refreshing its map as it does.
            from redis.exceptions import AskError, ConnectionError, SlotNotCoveredError

            try:
                cluster: Any = self._client.built if isinstance(self._client, LazyClient) else self._client
                node = cluster.get_redis_connection(cluster.get_node_from_key(key))
            except SlotNotCoveredError:
                node = None
            if node is not None:
                try:
                    return node.getex(key, ex=slide_ttl) if slide_ttl else node.get(key)
                except (AskError, ConnectionError):
                    pass
        return self._client.getex(key, ex=slide_ttl) if slide_ttl else self._client.get(key)

    def put(
        self,
        key: str,
        version: int,
        payload: bytes,
        ttl: int,
        *,
        namespace: str | None = None,
        member: str | None = None,
        generation: int = 0,
        verified: int = 0,
        replacing: Entry | None = None,
    ) -> bool:
        """Cache ``payload`` at ``version`` unless a newer entry (generation, then version) is cached.

        ``generation`` and ``verified`` go into the entry (see :class:`Entry`).
        ``replacing``: the entry the caller found cached and the store contradicted; it is
        replaced even if newer. With ``namespace`` and ``member``, also add ``member``
        to that set and renew its TTL: separate single-key commands (see :meth:`_run`).
        The set is a cache of the store's namespace, so it need not change atomically
        with the entry. Returns False when a newer entry was kept. Raises
        CacheUnavailable or CacheBug.
        """
        args: list[Any] = [
            version,
            generation,
            encode_entry(version, payload, generation, verified),
            ttl,
            "" if replacing is None else replacing.version,
            "" if replacing is None else replacing.generation,
        ]
        with self._command("write"):
            if namespace is None or member is None:
                return self._script(_SET_IF_NOT_OLDER, _SET_IF_NOT_OLDER_SHA, key, args)
            if self._cluster:
                # The entry and the set live on different masters: a pipeline would cost the
                # cluster client an extra COMMAND GETKEYS for the script, and gain nothing.
                stored = self._script(_SET_IF_NOT_OLDER, _SET_IF_NOT_OLDER_SHA, key, args)
                _raise_first(self._run([("SADD", namespace, member), ("EXPIRE", namespace, ttl)]))
                return stored
            stored, *rest = self._run(
                [
                    ("EVALSHA", _SET_IF_NOT_OLDER_SHA, 1, key, *args),
                    ("SADD", namespace, member),
                    ("EXPIRE", namespace, ttl),
                ]
            )
            if _is_noscript(stored):
                stored = self._script(_SET_IF_NOT_OLDER, _SET_IF_NOT_OLDER_SHA, key, args)
            _raise_first([stored, *rest])
            return bool(stored)

    def delete_unchanged(self, key: str, entry: Entry) -> bool:
        """Delete ``key`` if it still holds ``entry``'s version and generation. Raises CacheUnavailable, CacheBug."""
        with self._command("delete"):
            return self._script(
                _DELETE_IF_UNCHANGED, _DELETE_IF_UNCHANGED_SHA, key, [entry.version, entry.generation]
            )

    def _script(self, script: str, sha: str, key: str, args: list[Any]) -> bool:
        from redis.exceptions import NoScriptError

        try:
            return bool(self._client.evalsha(sha, 1, key, *args))
        except NoScriptError:
            # A new, restarted or flushed server: load the script (on every master of
            # a cluster) and run it again.
            self._client.script_load(script)
            return bool(self._client.evalsha(sha, 1, key, *args))

    def delete(self, *keys: str, namespace: str | None = None, members: tuple[str, ...] = ()) -> None:
        """Delete ``keys`` and remove ``members`` from ``namespace``, one command per key.

        Raises CacheUnavailable or CacheBug, after every key that could be
        deleted was (see :meth:`_run`).
        """
        commands: list[tuple[Any, ...]] = [("DEL", key) for key in keys]
        if namespace is not None and members:
            commands.append(("SREM", namespace, *members))
        with self._command("delete"):
            _raise_first(self._run(commands))

    def _run(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send single-key commands in one pipeline; the results, an error in place of each that failed.

        One round trip on a single node (and on ElastiCache Serverless, whose
        one endpoint owns every slot); a single node that fails fails them all. A cluster client sends each command to
        its slot's master, but gives up on the whole pipeline when one master
        is unreachable; the commands are then sent one at a time, so that the
        masters that answer still get theirs (an entry on a healthy master is
        never left older than the store because a namespace set lives on a dead
        one). Every command here may be sent twice: the entry write is
        version-guarded, the others are idempotent.
        """
        from redis.exceptions import RedisClusterException, RedisError

        pipe = self._client.pipeline(transaction=False)
        for command in commands:
            # redis-py's cluster pipeline refuses its evalsha() method (a script may touch
            # any keys); this one touches exactly the key it names, which the pipeline
            # routes by, so it goes in as a plain command.
            pipe.execute_command(*command)
        try:
            results: list[Any] = pipe.execute(raise_on_error=False)
            return results
        except (RedisError, RedisClusterException, OSError) as exc:
            # One node that fails fails for every command: sending them again would only wait
            # out the timeout once more for each.
            if len(commands) == 1 or not self._cluster or classify(exc) != "unavailable":
                raise
        results = []
        for command in commands:
            try:
                results.append(self._client.execute_command(*command))
            except (RedisError, RedisClusterException, OSError) as exc:
                results.append(exc)
        return results

    def namespace_members(self, namespace: str) -> set[str]:
        with self._command("read"):
            raw = self._client.smembers(namespace)
        return {m.decode() if isinstance(m, bytes) else str(m) for m in raw}

    def close(self) -> None:
        self._client.close()

    def ping(self) -> None:
        """One PING, to every master of a cluster (the breaker's probe). Raises CacheUnavailable or CacheBug."""
        with _translate_errors("answer", cluster=self._cluster):
            if self._cluster:
                self._client.ping(target_nodes="primaries")
            else:
                self._client.ping()

    def probe(self, key: str) -> None:
        """Write, read back and delete ``key`` (health): proves the cache stores, not only answers.

        Raises CacheUnavailable or CacheBug, or CacheBug when the value read back differs.
        """
        token = b"probe"
        with _translate_errors("answer", cluster=self._cluster):
            results = self._run([("SET", key, token, "EX", 60), ("GET", key), ("DEL", key)])
            _raise_first(results)
        if results[1] != token:
            raise CacheBug("The cache did not return the value it was given.")


def _raise_first(results: list[Any]) -> None:
    for result in results:
        if isinstance(result, BaseException):
            raise result


def _is_noscript(result: Any) -> bool:
    from redis.exceptions import NoScriptError

    return isinstance(result, NoScriptError)


def make_redis_client(url: str, *, timeout_ms: int, cluster: bool = False) -> Any:
    """A client for ``url`` with explicit socket timeouts (hiredis parser when present).

    ``cluster=True`` gives redis-py's cluster client (``redis.cluster.RedisCluster``),
    which ElastiCache Serverless and any cluster-mode cache need: it learns the
    slot map from the node at ``url`` and sends each command to the slot's
    master. Neither client connects here; the first command does (a cluster
    client that cannot reach a node is built again by the next command).
    """
    import redis

    timeout = timeout_ms / 1000
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "health_check_interval": 30,
    }
    if cluster:
        from redis.backoff import ExponentialBackoff
        from redis.cluster import RedisCluster
        from redis.retry import Retry

        def build() -> Any:
            # One retry after the client refreshed its slot map: enough to follow a failover,
            # short enough that an outage is reported within about two timeouts.
            return RedisCluster.from_url(
                url, retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1), **options
            )

        return LazyClient(build)
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError
    from redis.retry import Retry

    # One retry on a dropped connection (an idle socket the server closed); none on a timeout:
    # redis-py's default retries each timed-out command 3 times, so a hung cache cost 4 timeouts.
    no_retry_on_timeout = Retry(
        ExponentialBackoff(cap=0.05, base=0.01), 1, supported_errors=(ConnectionError,)
    )
    return redis.Redis.from_url(url, retry=no_retry_on_timeout, **options)


class LazyClient:
    """A client built on its first command, and built again after a failed build.

    redis-py's cluster client reads the slot map in its constructor, so it
    cannot be built while the cluster is unreachable; building it here, inside
    a command, lets that failure be an ordinary "unavailable" command.
    """

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def built(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build()
        return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.built, name)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
