"""Every setting Stateway reads, by its environment-variable name, read once.

``Settings.from_env()`` validates the whole environment at cold start and
raises :class:`~stateway.errors.ConfigError` naming the first setting that is
missing or malformed. Explicit keyword arguments beat the environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any, Literal

from stateway.errors import ConfigError

# The names, in one place. The SAM template passes exactly these (tested).
REDIS_URL = "REDIS_URL"
REDIS_CLUSTER = "STATEWAY_REDIS_CLUSTER"
MONGODB_URI = "MONGODB_URI"
MONGODB_URI_SOURCE = "STATEWAY_MONGODB_URI_SOURCE"
MONGODB_DB = "STATEWAY_MONGODB_DB"
MONGODB_TLS_CA_FILE = "STATEWAY_MONGODB_TLS_CA_FILE"
SNAPSHOT_BUCKET = "STATEWAY_SNAPSHOT_BUCKET"
SESSION_TTL = "STATEWAY_SESSION_TTL"
PROJECT_TTL = "STATEWAY_PROJECT_TTL"
MAX_STATE_BYTES = "STATEWAY_MAX_STATE_BYTES"
NAVIGATION_LIMIT = "STATEWAY_NAVIGATION_LIMIT"
CLASSIFIER_CONFIG = "STATEWAY_CLASSIFIER_CONFIG"
REDIS_TIMEOUT_MS = "STATEWAY_REDIS_TIMEOUT_MS"
MONGODB_TIMEOUT_MS = "STATEWAY_MONGODB_TIMEOUT_MS"
S3_TIMEOUT_MS = "STATEWAY_S3_TIMEOUT_MS"
LOG_LEVEL = "STATEWAY_LOG_LEVEL"
CACHE_VERIFY_SECONDS = "STATEWAY_CACHE_VERIFY_SECONDS"
STAGE = "STATEWAY_STAGE"

#: Every environment variable ``config.py`` reads (the standard AWS variables
#: such as ``AWS_ENDPOINT_URL_S3`` are read by boto3 itself).
ENV_NAMES: tuple[str, ...] = (
    REDIS_URL,
    REDIS_CLUSTER,
    MONGODB_URI,
    MONGODB_URI_SOURCE,
    MONGODB_DB,
    MONGODB_TLS_CA_FILE,
    SNAPSHOT_BUCKET,
    SESSION_TTL,
    PROJECT_TTL,
    MAX_STATE_BYTES,
    NAVIGATION_LIMIT,
    CLASSIFIER_CONFIG,
    REDIS_TIMEOUT_MS,
    MONGODB_TIMEOUT_MS,
    S3_TIMEOUT_MS,
    LOG_LEVEL,
    CACHE_VERIFY_SECONDS,
    STAGE,
)

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

Need = Literal["cache", "store", "snapshots"]

#: What each function needs to serve any request, by its operation: checked when its app.py is
#: imported (the cold start), so a missing setting fails the function's init naming it rather
#: than its first request. cache: REDIS_URL; store: MONGODB_URI or STATEWAY_MONGODB_URI_SOURCE;
#: snapshots: STATEWAY_SNAPSHOT_BUCKET.
REQUIRED_BY: dict[str, tuple[Need, ...]] = {
    "health": ("cache", "store", "snapshots"),
    "session_init": ("cache", "store"),
    "session_state": ("cache", "store"),
    "session_update": ("cache", "store"),
    "session_end": ("cache", "store"),
    "session_list": ("cache", "store"),
    "project_save": ("cache", "store", "snapshots"),
    "project_load": ("cache", "store", "snapshots"),
    "project_snapshots": ("cache", "store", "snapshots"),
    "project_restore": ("cache", "store", "snapshots"),
}


@dataclass(frozen=True, slots=True)
class Settings:
    """The validated configuration of one deployment."""

    redis_url: str | None = None
    redis_cluster: bool = False
    """Use redis-py's cluster client (ElastiCache Serverless and every cluster-mode cache)."""
    mongodb_uri: str | None = None
    mongodb_uri_source: str | None = None
    mongodb_db: str = "stateway"
    mongodb_tls_ca_file: str | None = None
    """A CA bundle for the store's TLS (Amazon DocumentDB: the RDS global bundle)."""
    snapshot_bucket: str | None = None
    session_ttl: int = 7200
    project_ttl: int = 3600
    max_state_bytes: int = 262144
    navigation_limit: int = 100
    classifier_config: dict[str, Any] = field(default_factory=dict)
    redis_timeout_ms: int = 500
    mongodb_timeout_ms: int = 3000
    s3_timeout_ms: int = 3000
    log_level: str = "INFO"
    cache_verify_seconds: int = 10
    """Seconds a cached entry answers alone after the store last confirmed it (bounded staleness)."""
    stage: str = "local"
    """The deployment's Stage (a dimension of every metric)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read and validate every setting; ``overrides`` beat the environment."""
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            value = env.get(name)
            if value is None or not value.strip():
                return None
            return value.strip()

        def positive_int(name: str, default: int) -> int:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a positive integer, got {raw!r}.") from None
            if value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {raw!r}.")
            return value

        def boolean(name: str) -> bool:
            raw = text(name)
            if raw is None:
                return False
            if raw.lower() in ("true", "1", "yes"):
                return True
            if raw.lower() in ("false", "0", "no"):
                return False
            raise ConfigError(f"{name} must be true or false, got {raw!r}.")

        ca_file = text(MONGODB_TLS_CA_FILE)
        if ca_file is not None and not os.path.isfile(ca_file):
            raise ConfigError(f"{MONGODB_TLS_CA_FILE} names no readable file: {ca_file!r}.")

        classifier: dict[str, Any] = {}
        raw_classifier = text(CLASSIFIER_CONFIG)
        if raw_classifier is not None:
            try:
                parsed = json.loads(raw_classifier)
            except ValueError:
                raise ConfigError(f"{CLASSIFIER_CONFIG} must be a JSON object.") from None
            if not isinstance(parsed, dict):
                raise ConfigError(f"{CLASSIFIER_CONFIG} must be a JSON object.")
            classifier = parsed

        level = (text(LOG_LEVEL) or "INFO").upper()
        if level not in _LOG_LEVELS:
            raise ConfigError(f"{LOG_LEVEL} must be one of {', '.join(_LOG_LEVELS)}.")

        source = text(MONGODB_URI_SOURCE)
        if source is not None and not source.startswith(("secretsmanager:", "ssm:")):
            raise ConfigError(
                f"{MONGODB_URI_SOURCE} must be 'secretsmanager:<secret id>' or 'ssm:<parameter name>'."
            )

        values: dict[str, Any] = {
            "redis_url": text(REDIS_URL),
            "redis_cluster": boolean(REDIS_CLUSTER),
            "mongodb_uri": text(MONGODB_URI),
            "mongodb_uri_source": source,
            "mongodb_db": text(MONGODB_DB) or "stateway",
            "mongodb_tls_ca_file": ca_file,
            "snapshot_bucket": text(SNAPSHOT_BUCKET),
            "session_ttl": positive_int(SESSION_TTL, 7200),
            "project_ttl": positive_int(PROJECT_TTL, 3600),
            "max_state_bytes": positive_int(MAX_STATE_BYTES, 262144),
            "navigation_limit": positive_int(NAVIGATION_LIMIT, 100),
            "classifier_config": classifier,
            "redis_timeout_ms": positive_int(REDIS_TIMEOUT_MS, 500),
            "mongodb_timeout_ms": positive_int(MONGODB_TIMEOUT_MS, 3000),
            "s3_timeout_ms": positive_int(S3_TIMEOUT_MS, 3000),
            "log_level": level,
            "cache_verify_seconds": positive_int(CACHE_VERIFY_SECONDS, 10),
            "stage": text(STAGE) or "local",
        }
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        values.update(overrides)
        return cls(**values)

    def require(self, *needs: Need) -> None:
        """Raise ConfigError naming the first setting that ``needs`` lack."""
        for need in needs:
            if need == "cache":
                self.require_redis_url()
            elif need == "store":
                self.require_mongodb()
            else:
                self.require_snapshot_bucket()

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise ConfigError(f"{REDIS_URL} is required (for example redis://127.0.0.1:6379/0).")
        return self.redis_url

    def require_mongodb(self) -> None:
        if not self.mongodb_uri and not self.mongodb_uri_source:
            raise ConfigError(f"{MONGODB_URI} or {MONGODB_URI_SOURCE} is required.")

    def require_snapshot_bucket(self) -> str:
        if not self.snapshot_bucket:
            raise ConfigError(f"{SNAPSHOT_BUCKET} is required for project-state operations.")
        return self.snapshot_bucket


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings.from_env()


def clear_settings_cache() -> None:
    get_settings.cache_clear()
