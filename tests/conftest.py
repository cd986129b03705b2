"""Real servers for the tests, on free loopback ports, stopped by PID at the end.

``REDIS_URL``, ``MONGODB_URI`` and ``AWS_ENDPOINT_URL_S3`` point the shared
fixtures at servers of your own instead. Fault tests always start servers of
their own (they stop them).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stateway.config import Settings
from stateway_local.redis_cluster import RedisClusterServer
from stateway_local.seaweed import SeaweedS3
from stateway_local.servers import MongoServer, MotoS3Server, RedisServer, create_bucket
from stateway_testing.clients import mongo_client, redis_client, s3_client

TESTS = Path(__file__).resolve().parent
# A test's folder under tests/ is its kind, and its marker: `pytest -m unit`, `-m "not e2e"`.
FOLDER_MARKERS = ("unit", "integration", "e2e", "infra", "localstack")

# moto accepts any credentials; these keep boto3 from looking for real ones.
for _name, _value in (
    ("AWS_ACCESS_KEY_ID", "stateway-test"),
    ("AWS_SECRET_ACCESS_KEY", "stateway-test"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
):
    os.environ.setdefault(_name, _value)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path.resolve()
        if path.is_relative_to(TESTS) and (folder := path.relative_to(TESTS).parts[0]) in FOLDER_MARKERS:
            item.add_marker(folder)


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def error_logs(request: pytest.FixtureRequest) -> Iterator[list[logging.LogRecord]]:
    """Every ERROR the layer logs during a test; the test fails unless it expects them.

    The layer logs at ERROR only what is a bug (a 500, a cache or store error that is
    not an outage), so a suite that passes while one is logged would hide one. A test
    that provokes a bug on purpose is marked ``@pytest.mark.logs_errors`` and asserts
    on the records it receives.
    """
    handler = _ErrorRecords()
    logger = logging.getLogger("stateway")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("logs_errors") is None:
        lines = [
            f"{r.name}: {r.getMessage()} ({r.exc_info[0].__name__ if r.exc_info and r.exc_info[0] else '-'})"
            for r in handler.records
        ]
        pytest.fail("the layer logged errors:\n" + "\n".join(lines))


@pytest.fixture
def import_only_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a function's import checks (stateway.config.REQUIRED_BY), pointing nowhere."""
    from stateway_testing.settings import IMPORT_ONLY

    for name, value in IMPORT_ONLY.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def redis_url(workdir: Path) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with RedisServer(workdir / "redis") as server:
        yield server.url


@pytest.fixture(scope="session")
def redis_cluster(workdir: Path) -> Iterator[RedisClusterServer]:
    """A real 3-master Redis Cluster (what ElastiCache Serverless is), shared by the suites."""
    with RedisClusterServer(workdir / "redis-cluster") as cluster:
        yield cluster


@pytest.fixture(scope="session")
def cluster_redis(redis_cluster: RedisClusterServer) -> Iterator[Any]:
    """The layer's cluster client (``STATEWAY_REDIS_CLUSTER=true``) on the shared cluster."""
    client = redis_client(redis_cluster.url, cluster=True)
    yield client
    client.close()


@pytest.fixture(scope="session")
def mongodb_uri(workdir: Path) -> Iterator[str]:
    if os.environ.get("MONGODB_URI"):
        yield os.environ["MONGODB_URI"]
        return
    with MongoServer(workdir / "mongo") as server:
        yield server.uri


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    if os.environ.get("AWS_ENDPOINT_URL_S3"):
        yield os.environ["AWS_ENDPOINT_URL_S3"]
        return
    with MotoS3Server() as server:
        yield server.endpoint


@pytest.fixture(scope="session")
def seaweed(workdir: Path) -> Iterator[SeaweedS3]:
    """A SeaweedFS S3 endpoint (it checks SigV4, moto does not), for the suites that never stop it."""
    with SeaweedS3(workdir / "seaweed") as server:
        yield server


@pytest.fixture(scope="session")
def bucket(s3_endpoint: str) -> str:
    name = "stateway-test-snapshots"
    create_bucket(s3_endpoint, name)
    return name


@pytest.fixture
def uid() -> str:
    """A fresh id, so tests sharing servers never share keys."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def settings(redis_url: str, mongodb_uri: str, bucket: str) -> Settings:
    return Settings.from_env(
        {},
        redis_url=redis_url,
        mongodb_uri=mongodb_uri,
        snapshot_bucket=bucket,
        redis_timeout_ms=300,
        mongodb_timeout_ms=1500,
        s3_timeout_ms=1500,
    )


@pytest.fixture(scope="session")
def redis(redis_url: str) -> Iterator[Any]:
    client = redis_client(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def mongo_db(mongodb_uri: str) -> Iterator[Any]:
    client = mongo_client(mongodb_uri)
    yield client[f"stateway_test_{uuid.uuid4().hex[:8]}"]
    client.close()


@pytest.fixture(scope="session")
def s3(s3_endpoint: str) -> Any:
    return s3_client(s3_endpoint)
