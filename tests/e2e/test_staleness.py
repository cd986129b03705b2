"""Bounded staleness through the local gateway, in real time.

Goal: after a write or an end whose cache step failed, or whose store outcome was unknown, no
read serves a version older than the store's for more than 15 s after both tiers answer again
(the verify window, ``STATEWAY_CACHE_VERIFY_SECONDS``, is 10 s by default). Real servers: the
gateway reaches its own Redis through a loopback forwarder that the test cuts and heals (a
partition: the server keeps its data, nothing reaches it), and its own MongoDB-protocol server,
frozen with SIGSTOP while an update waits on it and resumed with SIGCONT. Each read is polled
until it serves the store's version; the time it took after healing is printed and checked
against the goal.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from stateway_local.devtoken import mint
from stateway_local.servers import MongoServer, RedisServer
from stateway_testing.gateway import start_gateway, stop_gateway
from stateway_testing.partition import Partition

GOAL_S = 15.0
CLIENT, USER = "staleco", "sam"


@dataclass
class Stack:
    url: str
    api: requests.Session
    partition: Partition
    mongo: MongoServer

    def sid(self, project: str) -> str:
        return f"session:{CLIENT}:{USER}:web:{project}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str, bucket: str) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("staleness")
    secret = secrets.token_urlsafe(24)
    with (
        RedisServer(workdir / "redis") as redis,
        Partition(redis.port) as partition,
        MongoServer(workdir / "mongo") as mongo,
    ):
        url, process = start_gateway(
            workdir,
            {
                "REDIS_URL": partition.url,
                "STATEWAY_REDIS_CLUSTER": "false",
                "MONGODB_URI": mongo.uri,
                "AWS_ENDPOINT_URL_S3": s3_endpoint,
                "STATEWAY_SNAPSHOT_BUCKET": bucket,
                "STATEWAY_JWT_SECRET": secret,
                "STATEWAY_REDIS_TIMEOUT_MS": "300",
                "STATEWAY_MONGODB_TIMEOUT_MS": "1000",
            },
        )
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {mint(USER, CLIENT, secret, ttl=600)}"
        try:
            yield Stack(url, api, partition, mongo)
        finally:
            mongo.resume()
            partition.heal()
            api.close()
            stop_gateway(process)


def until(check: Callable[[], bool], since: float) -> float:
    """Seconds from ``since`` until ``check()`` holds (polled every 100 ms, up to 3 x the goal)."""
    while not check():
        assert time.monotonic() - since < 3 * GOAL_S, "still stale"
        time.sleep(0.1)
    return time.monotonic() - since


def test_healed_partition_update_navigation_end_and_project_save(stack: Stack) -> None:
    url, api = stack.url, stack.api

    def state(project: str) -> Any:
        response = api.get(f"{url}/api/session/state", params={"session_id": stack.sid(project)}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    project_url = f"{url}/api/project-state/{CLIENT}/web/board"
    for project in ("upd", "nav", "end"):
        api.post(
            f"{url}/api/session/init",
            json={"client_id": CLIENT, "user_id": USER, "app_id": "web", "project_id": project},
            timeout=10,
        )
        api.patch(
            f"{url}/api/session/update",
            json={"session_id": stack.sid(project), "key": "theme", "value": "light"},
            timeout=10,
        )
        assert state(project)["source"] == "cache"
    assert api.put(project_url, json={"state": {"zoom": 1}}, timeout=10).status_code == 200
    assert api.get(project_url, timeout=10).json()["source"] == "cache"

    with stack.partition.cut_off():
        # Every write commits in the store and answers 200; its cache step fails.
        upd = api.patch(
            f"{url}/api/session/update",
            json={"session_id": stack.sid("upd"), "key": "theme", "value": "dark"},
            timeout=10,
        )
        nav = api.patch(
            f"{url}/api/session/update",
            json={"session_id": stack.sid("nav"), "navigation": {"path": "/x"}},
            timeout=10,
        )
        end = api.delete(f"{url}/api/session/end", params={"session_id": stack.sid("end")}, timeout=10)
        save = api.put(project_url, json={"state": {"zoom": 2}}, timeout=10)
        assert [r.status_code for r in (upd, nav, end, save)] == [200, 200, 204, 200]
    healed = time.monotonic()

    lags = {
        "update": until(lambda: state("upd")["state"]["theme"] == "dark", healed),
        "navigation": until(lambda: state("nav")["state"]["navigation"] == [{"path": "/x"}], healed),
        "end": until(lambda: state("end")["source"] == "default", healed),
        "project save": until(
            lambda: api.get(project_url, timeout=10).json()["state"] == {"zoom": 2}, healed
        ),
    }
    print(
        "\nstale after the partition healed (s): "
        + ", ".join(f"{k} {v:.1f}" for k, v in lags.items())
        + f"; goal {GOAL_S:.0f}"
    )
    assert max(lags.values()) <= GOAL_S


def test_a_write_that_lands_late_in_a_hung_store(stack: Stack) -> None:
    url, api = stack.url, stack.api
    sid = stack.sid("late")
    api.post(
        f"{url}/api/session/init",
        json={"client_id": CLIENT, "user_id": USER, "app_id": "web", "project_id": "late"},
        timeout=10,
    )
    assert api.get(f"{url}/api/session/state", params={"session_id": sid}, timeout=10).json()["version"] == 1
    stack.mongo.pause()
    try:
        started = time.monotonic()
        late = api.patch(
            f"{url}/api/session/update", json={"session_id": sid, "key": "theme", "value": "dark"}, timeout=30
        )
        waited = time.monotonic() - started
    finally:
        stack.mongo.resume()
    resumed = time.monotonic()
    assert late.status_code == 503 and late.json()["error"]["code"] == "store_unavailable"
    # The frozen server applies the update when it resumes; the cache never saw it.
    lag = until(
        lambda: (
            api.get(f"{url}/api/session/state", params={"session_id": sid}, timeout=10).json()["version"] == 2
        ),
        resumed,
    )
    print(
        f"\nlate write: 503 after {waited:.1f} s; read as the store's version {lag:.1f} s after the store resumed; goal {GOAL_S:.0f}"
    )
    assert lag <= GOAL_S
