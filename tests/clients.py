"""Clients for the tests, with the short timeouts a fault test wants (the layer's own builders)."""

from __future__ import annotations

from typing import Any


def redis_client(url: str, timeout_ms: int = 300, *, cluster: bool = False) -> Any:
    from stateway.tiers.redis_cache import make_redis_client

    return make_redis_client(url, timeout_ms=timeout_ms, cluster=cluster)


def mongo_client(uri: str, timeout_ms: int = 1500, **options: Any) -> Any:
    from stateway.tiers.mongo_store import make_mongo_client

    return make_mongo_client(uri, timeout_ms=timeout_ms, **options)


def s3_client(endpoint: str, **credentials: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=1.5, read_timeout=1.5, retries={"max_attempts": 1})
    return boto3.client("s3", endpoint_url=endpoint, config=config, **credentials)
