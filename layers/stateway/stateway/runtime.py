"""Clients and services, built lazily once per process and reused while warm.

Nothing here runs at import time. Each ``get_*`` builds what it needs on first
use (so a session function never builds, or imports, an S3 client), and
``clear_caches()`` forgets everything (tests, or a new configuration).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from stateway.config import MONGODB_URI_SOURCE, Settings, clear_settings_cache, get_settings
from stateway.errors import BackendBug, ConfigError, StatewayError, StoreUnavailable
from stateway.ids import health_key

if TYPE_CHECKING:
    from stateway.projects import ProjectService
    from stateway.sessions import SessionService
    from stateway.tiers.mongo_store import MongoStore
    from stateway.tiers.redis_cache import RedisCache
    from stateway.tiers.s3_snapshots import S3Snapshots

logger = logging.getLogger("stateway.runtime")

_lock = threading.RLock()
_built: dict[str, Any] = {}

# The AWS Parameters and Secrets Lambda Extension answers on this port.
_EXTENSION_PORT = os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2773")


def _once(name: str, build: Any) -> Any:
    with _lock:
        if name not in _built:
            _built[name] = build()
        return _built[name]


def clear_caches() -> None:
    """Forget every client, service and the settings (the next call rebuilds them)."""
    with _lock:
        for name in ("mongo_client", "redis_client", "redis_probe"):
            client = _built.get(name)
            if client is not None:
                client.close()
        _built.clear()
    clear_settings_cache()


def resolve_mongodb_uri(settings: Settings) -> str:
    """``MONGODB_URI``, or the secret/parameter named by ``STATEWAY_MONGODB_URI_SOURCE``.

    The secret is read through the Parameters and Secrets extension (HTTP on
    localhost), so no function needs boto3 for it and the URI is never logged.
    """
    settings.require_mongodb()
    if settings.mongodb_uri:
        return settings.mongodb_uri
    import urllib.parse
    import urllib.request

    assert settings.mongodb_uri_source is not None
    kind, _, name = settings.mongodb_uri_source.partition(":")
    quoted = urllib.parse.quote(name, safe="")
    if kind == "secretsmanager":
        path = f"/secretsmanager/get?secretId={quoted}"
    else:
        path = f"/systemsmanager/parameters/get?name={quoted}&withDecryption=true"
    request = urllib.request.Request(
        f"http://localhost:{_EXTENSION_PORT}{path}",
        headers={"X-Aws-Parameters-Secrets-Token": os.environ.get("AWS_SESSION_TOKEN", "")},
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.mongodb_timeout_ms / 1000) as response:
            body = json.load(response)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{MONGODB_URI_SOURCE}: the MongoDB URI could not be read.") from exc
    value = body.get("SecretString") if kind == "secretsmanager" else body.get("Parameter", {}).get("Value")
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{MONGODB_URI_SOURCE}: the secret holds no MongoDB URI.")
    return value


def redis_client() -> Any:
    def build() -> Any:
        from stateway.tiers.redis_cache import make_redis_client

        settings = get_settings()
        return make_redis_client(
            settings.require_redis_url(),
            timeout_ms=settings.redis_timeout_ms,
            cluster=settings.redis_cluster,
        )

    return _once("redis_client", build)


def connect_mongo(settings: Settings, *, socket_timeout_ms: int | None = None) -> Any:
    """A new MongoDB client for ``settings``: the URI resolved, the timeouts and CA applied.

    What the functions use (once per process, :func:`mongo_client`) and what the
    migration uses (once per run, :mod:`stateway.migrate`). Raises ConfigError
    (no URI, or a malformed one), StoreUnavailable (a ``mongodb+srv`` name that
    does not resolve now).
    """
    from pymongo.errors import ConfigurationError

    from stateway.tiers.mongo_store import is_transient, make_mongo_client

    uri = resolve_mongodb_uri(settings)
    try:
        return make_mongo_client(
            uri,
            timeout_ms=settings.mongodb_timeout_ms,
            tls_ca_file=settings.mongodb_tls_ca_file,
            socket_timeout_ms=socket_timeout_ms,
        )
    except ConfigurationError as exc:
        # A mongodb+srv URI is resolved here: a failed lookup is an outage (nothing is
        # kept, the next request tries again); anything else is a malformed URI.
        if is_transient(exc):
            raise StoreUnavailable("The durable store's address could not be resolved.") from exc
        raise ConfigError("The MongoDB URI or its options are not valid.") from exc


def mongo_client() -> Any:
    return _once("mongo_client", lambda: connect_mongo(get_settings()))


#: The breaker's probe waits this long at most (never the full STATEWAY_REDIS_TIMEOUT_MS).
PROBE_TIMEOUT_MS = 100


def cache() -> RedisCache:
    """The cache, behind a circuit breaker shared by every service of the process."""

    def build() -> RedisCache:
        from stateway.breaker import CircuitBreaker
        from stateway.metrics import METRICS
        from stateway.tiers.redis_cache import RedisCache, make_redis_client

        def probe() -> None:
            def build_probe() -> Any:
                settings = get_settings()
                timeout = min(PROBE_TIMEOUT_MS, settings.redis_timeout_ms)
                client = make_redis_client(
                    settings.require_redis_url(), timeout_ms=timeout, cluster=settings.redis_cluster
                )
                return RedisCache(client)

            _once("redis_probe", build_probe).ping()

        return RedisCache(redis_client(), breaker=CircuitBreaker(probe, METRICS))

    result: RedisCache = _once("cache", build)
    return result


def database() -> Any:
    """The store's database; built on the first store command.

    It sends nothing itself: the indexes are created at deploy time
    (:mod:`stateway.migrate`), so a cold start never waits for, or needs the
    privilege of, ``createIndexes``. Raises StoreUnavailable while the store's
    name cannot be resolved; nothing is kept, and the next call tries again.
    """
    return _once("database", lambda: mongo_client()[get_settings().mongodb_db])


class _LazyDatabase:
    """What the store is given: the database is built by its first command, not before.

    So a request the cache answers never waits for, or fails on, a store it
    does not need (an unreachable server, a ``mongodb+srv`` name that does not
    resolve).
    """

    def __getitem__(self, name: str) -> Any:
        return _LazyCollection(name)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        return database().command(*args, **kwargs)


class _LazyCollection:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(database()[self._name], attr)


def store() -> MongoStore:
    def build() -> MongoStore:
        from stateway.tiers.mongo_store import MongoStore

        return MongoStore(_LazyDatabase())

    result: MongoStore = _once("store", build)
    return result


def snapshots() -> S3Snapshots:
    def build() -> S3Snapshots:
        from stateway.tiers.s3_snapshots import S3Snapshots

        settings = get_settings()
        # The boto3 client itself is built on the first S3 request, not here.
        return S3Snapshots(None, settings.require_snapshot_bucket(), timeout_ms=settings.s3_timeout_ms)

    result: S3Snapshots = _once("snapshots", build)
    return result


def session_service() -> SessionService:
    def build() -> SessionService:
        from stateway.sessions import SessionService

        return SessionService(store(), cache(), get_settings())

    result: SessionService = _once("session_service", build)
    return result


def project_service() -> ProjectService:
    def build() -> ProjectService:
        from stateway.projects import ProjectService

        return ProjectService(store(), cache(), snapshots(), get_settings())

    result: ProjectService = _once("project_service", build)
    return result


Status = Literal["ok", "down"]


@dataclass(frozen=True, slots=True)
class Health:
    cache: Status
    store: Status
    snapshots: Status

    @property
    def healthy(self) -> bool:
        """The store is what the service cannot do without."""
        return self.store == "ok"


_HEALTH_TOKEN = uuid.uuid4().hex


def health() -> Health:
    """Check each tier; a tier that fails or is not configured is ``"down"``.

    The cache is "ok" only when a write, a read and a delete of a key of this
    process's own work (a PING proves only that something answers). A tier
    that answers with a bug is "down" too, and logged at ERROR with its traceback.
    """

    def check(probe: Any) -> Status:
        try:
            probe()
        except BackendBug:
            logger.error("health check failed with a bug", exc_info=True)
            return "down"
        except (StatewayError, OSError):
            return "down"
        return "ok"

    return Health(
        cache=check(lambda: cache().probe(health_key(_HEALTH_TOKEN))),
        store=check(lambda: store().ping()),
        snapshots=check(lambda: snapshots().ping()),
    )
