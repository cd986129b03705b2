"""Clients for the tests, with the short timeouts a fault test wants."""

from __future__ import annotations

from typing import Any


def redis_client(url: str, timeout_ms: int = 300) -> Any:
    from stateway.tiers.redis_cache import make_redis_client

    return make_redis_client(url, timeout_ms=timeout_ms)


def mongo_client(uri: str, timeout_ms: int = 1500) -> Any:
    from pymongo import MongoClient

    return MongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,
    )


def s3_client(endpoint: str, **credentials: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=1.5, read_timeout=1.5, retries={"max_attempts": 1})
    return boto3.client("s3", endpoint_url=endpoint, config=config, **credentials)
