"""The session's gateways (see :mod:`stateway_testing.gateway`), and their logs checked after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stateway_local.redis_cluster import RedisClusterServer
from stateway_testing.gateway import Gateway, error_lines, serve


@pytest.fixture(autouse=True)
def gateway_logs_no_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test fails when a session gateway it used logged an ERROR (a bug) while it ran."""
    gateways = [
        request.getfixturevalue(name)
        for name in ("gateway", "cluster_gateway")
        if name in request.fixturenames
    ]
    logs = [g.log_path for g in gateways if g.log_path is not None]
    offsets = [p.stat().st_size for p in logs]
    yield
    found = [line for p, o in zip(logs, offsets, strict=True) for line in error_lines(p, o)]
    if found and request.node.get_closest_marker("logs_errors") is None:
        pytest.fail("the gateway logged errors:\n" + "\n".join(found[:20]))


@pytest.fixture(scope="session")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, s3_endpoint: str, bucket: str
) -> Iterator[Gateway]:
    with serve(tmp_path_factory.mktemp("gateway"), s3_endpoint, bucket, {"REDIS_URL": redis_url}) as gw:
        yield gw


@pytest.fixture(scope="session")
def cluster_gateway(
    tmp_path_factory: pytest.TempPathFactory, redis_cluster: RedisClusterServer, s3_endpoint: str, bucket: str
) -> Iterator[Gateway]:
    """The gateway on the real 3-master Redis Cluster, with ``STATEWAY_REDIS_CLUSTER=true``."""
    cache = {"REDIS_URL": redis_cluster.url, "STATEWAY_REDIS_CLUSTER": "true"}
    with serve(tmp_path_factory.mktemp("cluster-gateway"), s3_endpoint, bucket, cache, redis_cluster) as gw:
        yield gw
