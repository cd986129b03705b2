"""Clients for the tests, built by the layer's own builders, with the short timeouts a fault test wants."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


def redis_client(url: str, timeout_ms: int = 300, *, cluster: bool = False) -> Any:
    """The layer's Redis client (:func:`stateway.tiers.redis_cache.make_redis_client`)."""
    from stateway.tiers.redis_cache import make_redis_client

    return make_redis_client(url, timeout_ms=timeout_ms, cluster=cluster)


def mongo_client(uri: str, timeout_ms: int = 1500, *, event_listeners: list[Any] | None = None) -> Any:
    """The layer's MongoDB client (:func:`stateway.tiers.mongo_store.make_mongo_client`).

    What a deployment puts in its URI (``retryWrites=false`` for DocumentDB, ``replicaSet``,
    ``tls``) a test puts in the URI too, with :func:`uri_with`.
    """
    from stateway.tiers.mongo_store import make_mongo_client

    return make_mongo_client(uri, timeout_ms=timeout_ms, event_listeners=event_listeners)


def uri_with(uri: str, **options: str) -> str:
    """``uri`` with ``options`` in its query string, replacing options of the same name.

    MongoDB option names are case-insensitive, and so is the replacing.
    """
    parts = urlsplit(uri)
    names = {name.lower() for name in options}
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in names]
    query.extend(options.items())
    # A MongoDB URI needs the "/" between its hosts and its options.
    return urlunsplit(parts._replace(path=parts.path or "/", query=urlencode(query, safe="/:,")))


def s3_client(endpoint: str, **credentials: str) -> Any:
    """A boto3 S3 client for ``endpoint`` with short timeouts and no retries."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=1.5, read_timeout=1.5, retries={"max_attempts": 1})
    return boto3.client("s3", endpoint_url=endpoint, config=config, **credentials)
