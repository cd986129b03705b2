"""The session's gateways (see :mod:`stateway_testing.gateway`), and their logs checked after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stateway_local.redis_cluster import RedisClusterServer
from stateway_testing.gateway import Gateway, error_lines, serve
from stateway_testing.template import Template, copy_template

#: Every gateway fixture below; a test using one fails when it logged an ERROR meanwhile.
GATEWAYS = ("gateway", "cluster_gateway", "edited_template_gateway", "overridden_gateway", "broken_gateway")

#: The origins ``overridden_gateway`` allows (its ``CorsAllowOrigins``).
ALLOWED_ORIGINS = ("https://app.example.test", "https://admin.example.test")

#: What these gateways must take from the template, never from the test process's environment.
TEMPLATE_SETTINGS = ("STATEWAY_TEMPLATE", "STATEWAY_PARAMETER_OVERRIDES", "STATEWAY_NAVIGATION_LIMIT")


def single_node(redis_url: str) -> dict[str, str]:
    """One Redis node, which says it is not a cluster (the template's created cache is one)."""
    return {"REDIS_URL": redis_url, "STATEWAY_REDIS_CLUSTER": "false"}


@pytest.fixture(autouse=True)
def gateway_logs_no_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test fails when a session gateway it used logged an ERROR (a bug) while it ran."""
    gateways = [request.getfixturevalue(name) for name in GATEWAYS if name in request.fixturenames]
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
    with serve(tmp_path_factory.mktemp("gateway"), s3_endpoint, bucket, single_node(redis_url)) as gw:
        yield gw


@pytest.fixture(scope="session")
def cluster_gateway(
    tmp_path_factory: pytest.TempPathFactory, redis_cluster: RedisClusterServer, s3_endpoint: str, bucket: str
) -> Iterator[Gateway]:
    """The gateway on the real 3-master Redis Cluster, with ``STATEWAY_REDIS_CLUSTER=true``."""
    cache = {"REDIS_URL": redis_cluster.url, "STATEWAY_REDIS_CLUSTER": "true"}
    with serve(tmp_path_factory.mktemp("cluster-gateway"), s3_endpoint, bucket, cache, redis_cluster) as gw:
        yield gw


def _navigation_limit_2(template: Template) -> None:
    template["Parameters"]["NavigationLimit"]["Default"] = 2


def _session_init_cannot_start(template: Template) -> None:
    # Its own variable wins over the Globals' (and the test gateway gives none of its own).
    properties = template["Resources"]["SessionInitFunction"]["Properties"]
    properties["Environment"] = {"Variables": {"STATEWAY_MAX_STATE_BYTES": "not-a-number"}}


@pytest.fixture(scope="session")
def edited_template_gateway(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, s3_endpoint: str, bucket: str
) -> Iterator[Gateway]:
    """A gateway serving a copy of the template whose ``NavigationLimit`` defaults to 2
    (``STATEWAY_TEMPLATE``), with no ``STATEWAY_NAVIGATION_LIMIT`` in its environment."""
    root = tmp_path_factory.mktemp("edited-template")
    template = copy_template(root, _navigation_limit_2)
    env = {"STATEWAY_TEMPLATE": str(template)}
    unset = [name for name in TEMPLATE_SETTINGS if name not in env]
    with serve(root, s3_endpoint, bucket, single_node(redis_url), env=env, unset=unset) as gw:
        yield gw


@pytest.fixture(scope="session")
def overridden_gateway(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, s3_endpoint: str, bucket: str
) -> Iterator[Gateway]:
    """The real template with ``NavigationLimit=3`` and ``CorsAllowOrigins`` given as
    ``STATEWAY_PARAMETER_OVERRIDES`` (``sam deploy --parameter-overrides``' form)."""
    overrides = f"NavigationLimit=3 CorsAllowOrigins={','.join(ALLOWED_ORIGINS)}"
    env = {"STATEWAY_PARAMETER_OVERRIDES": overrides}
    unset = [name for name in TEMPLATE_SETTINGS if name not in env]
    root = tmp_path_factory.mktemp("overridden-gateway")
    with serve(root, s3_endpoint, bucket, single_node(redis_url), env=env, unset=unset) as gw:
        yield gw


@pytest.fixture(scope="session")
def broken_gateway(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, s3_endpoint: str, bucket: str
) -> Iterator[Gateway]:
    """A copy of the template in which ``SessionInitFunction`` cannot start (a malformed
    ``STATEWAY_MAX_STATE_BYTES``); every other function can."""
    root = tmp_path_factory.mktemp("broken-gateway")
    template = copy_template(root, _session_init_cannot_start)
    env = {"STATEWAY_TEMPLATE": str(template)}
    unset = ["STATEWAY_MAX_STATE_BYTES", *(name for name in TEMPLATE_SETTINGS if name not in env)]
    with serve(root, s3_endpoint, bucket, single_node(redis_url), env=env, unset=unset) as gw:
        yield gw
