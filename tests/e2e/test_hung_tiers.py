"""A store and an S3 that hang (SIGSTOP: they hold their connections and answer nothing), through
the local gateway, resumed with SIGCONT in a ``finally``.

What a client gets while each hangs, and what each answer costs (p50 / p95 / max printed; the
checks allow generous margins on 2 shared cores):

- MongoDB hung (``STATEWAY_MONGODB_TIMEOUT_MS=1000``): a cached session is still served from the
  cache, at cache speed once this process's check of the store has failed once (the hold-off);
  writes answer 503 ``store_unavailable`` after the timeout, never a 500.
- S3 hung (``STATEWAY_S3_TIMEOUT_MS=500``): a save answers 200 with ``snapshot.status: failed``
  after the timeout; a load served by the cache does not wait on S3 at all; the history answers
  503 ``snapshots_unavailable``. After SIGCONT the next save's snapshot is written.
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from stateway_local.devtoken import mint
from stateway_local.seaweed import SeaweedS3
from stateway_local.servers import MongoServer, RedisServer
from stateway_testing.gateway import start_gateway, stop_gateway

CLIENT, USER, BUCKET = "hangco", "hugo", "stateway-hung"


@dataclass
class Stack:
    url: str
    api: requests.Session
    mongo: MongoServer
    s3: SeaweedS3


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("hung-tiers")
    secret = secrets.token_urlsafe(24)
    with (
        RedisServer(workdir / "redis") as redis,
        MongoServer(workdir / "mongo") as mongo,
        SeaweedS3(workdir / "s3") as s3,
    ):
        s3.create_bucket(BUCKET)
        url, process = start_gateway(
            workdir,
            {
                "REDIS_URL": redis.url,
                "STATEWAY_REDIS_CLUSTER": "false",
                "MONGODB_URI": mongo.uri,
                **s3.aws_environment(),
                "STATEWAY_SNAPSHOT_BUCKET": BUCKET,
                "STATEWAY_JWT_SECRET": secret,
                "STATEWAY_MONGODB_TIMEOUT_MS": "1000",
                "STATEWAY_S3_TIMEOUT_MS": "500",
            },
        )
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {mint(USER, CLIENT, secret, ttl=600)}"
        try:
            yield Stack(url, api, mongo, s3)
        finally:
            mongo.resume()
            s3.resume()
            api.close()
            stop_gateway(process)


def timed(call: Callable[[], requests.Response]) -> tuple[float, requests.Response]:
    started = time.perf_counter()
    response = call()
    return (time.perf_counter() - started) * 1000, response


def figures(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = statistics.quantiles(ordered, n=20, method="inclusive")[18] if len(ordered) >= 2 else ordered[0]
    return f"p50 {statistics.median(ordered):.0f} / p95 {p95:.0f} / max {ordered[-1]:.0f} ms"


def test_a_hung_store(stack: Stack) -> None:
    url, api = stack.url, stack.api
    sid = f"session:{CLIENT}:{USER}:web:p1"
    api.post(
        f"{url}/api/session/init",
        json={"client_id": CLIENT, "user_id": USER, "app_id": "web", "project_id": "p1"},
        timeout=10,
    )

    def read() -> requests.Response:
        return api.get(f"{url}/api/session/state", params={"session_id": sid}, timeout=30)

    def write(n: int) -> requests.Response:
        return api.patch(
            f"{url}/api/session/update", json={"session_id": sid, "key": "n", "value": n}, timeout=30
        )

    reads: list[float] = []
    writes: list[float] = []
    stack.mongo.pause()
    try:
        for _ in range(12):
            elapsed, response = timed(read)
            assert (response.status_code, response.json()["source"]) == (200, "cache"), response.text
            reads.append(elapsed)
        for n in range(3):
            elapsed, response = timed(lambda n=n: write(n))
            assert (response.status_code, response.json()["error"]["code"]) == (503, "store_unavailable")
            writes.append(elapsed)
    finally:
        stack.mongo.resume()
    print(f"\nstore hung: cached reads {figures(reads)}; writes (503) {figures(writes)}")
    # Reads are served by the cache (entries within their window need no store at all).
    assert statistics.median(reads) < 300
    # A write waits for the store's timeout (1 s per command) and is told to try again.
    assert all(ms < 10_000 for ms in writes)
    ok = write(99)
    assert ok.status_code == 200


def test_a_hung_s3(stack: Stack) -> None:
    url, api = stack.url, stack.api
    project = f"{url}/api/project-state/{CLIENT}/web/board"
    assert api.put(project, json={"state": {"zoom": 1}}, timeout=10).json()["snapshot"]["status"] == "ok"
    saves: list[float] = []
    loads: list[float] = []
    stack.s3.pause()
    try:
        for n in range(2, 5):
            elapsed, response = timed(lambda n=n: api.put(project, json={"state": {"zoom": n}}, timeout=30))
            assert response.status_code == 200, response.text
            assert response.json()["snapshot"] == {"id": None, "status": "failed"}
            saves.append(elapsed)
        for _ in range(10):
            elapsed, response = timed(lambda: api.get(project, timeout=30))
            assert (response.status_code, response.json()["source"]) == (200, "cache")
            loads.append(elapsed)
        history = api.get(f"{project}/snapshots", timeout=30)
        assert (history.status_code, history.json()["error"]["code"]) == (503, "snapshots_unavailable")
    finally:
        stack.s3.resume()
    print(f"\nS3 hung: saves (snapshot failed) {figures(saves)}; cached loads {figures(loads)}")
    assert statistics.median(loads) < 300
    assert all(ms < 10_000 for ms in saves)
    deadline = time.monotonic() + 30
    while True:
        saved = api.put(project, json={"state": {"zoom": 9}}, timeout=30).json()
        if saved["snapshot"]["status"] == "ok" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert saved["snapshot"]["status"] == "ok"
