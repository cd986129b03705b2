"""A cache that hangs (SIGSTOP: it holds its connections and answers nothing), through the local gateway.

Goal (``STATEWAY_REDIS_TIMEOUT_MS=500``): after at most 3 requests of a warm
function, reads and writes cost no more than 150 ms at p95 while the cache
hangs (the circuit breaker skips it), and the cache is used again within 5 s
after it answers. The figures are printed; the checks allow twice the goal
(2 cores, other suites running).
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from stateway_local.devtoken import mint
from stateway_local.servers import RedisServer
from stateway_testing.gateway import error_lines, start_gateway, stop_gateway

TIMEOUT_MS = 500
#: Requests of each function that may still wait on the cache before its breaker opens.
OPENING = 3
GOAL_P95_MS = 150
GOAL_RECOVERY_S = 5.0


@dataclass
class Hung:
    url: str
    redis: RedisServer
    api: requests.Session
    log: Path


@pytest.fixture(scope="module")
def hung(
    tmp_path_factory: pytest.TempPathFactory, mongodb_uri: str, s3_endpoint: str, bucket: str
) -> Iterator[Hung]:
    workdir = tmp_path_factory.mktemp("hung-cache")
    secret = secrets.token_urlsafe(24)
    with RedisServer(workdir / "redis") as redis:
        url, process = start_gateway(
            workdir,
            {
                "REDIS_URL": redis.url,
                "STATEWAY_REDIS_CLUSTER": "false",
                "MONGODB_URI": mongodb_uri,
                "STATEWAY_MONGODB_DB": f"hung_{secrets.token_hex(4)}",
                "AWS_ENDPOINT_URL_S3": s3_endpoint,
                "STATEWAY_SNAPSHOT_BUCKET": bucket,
                "STATEWAY_JWT_SECRET": secret,
                "STATEWAY_REDIS_TIMEOUT_MS": str(TIMEOUT_MS),
            },
        )
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer {mint('hana', 'hungco', secret, ttl=600)}"
        try:
            yield Hung(url, redis, api, workdir / "gateway.log")
        finally:
            redis.resume()
            api.close()
            stop_gateway(process)


def timed(call: requests.Request, session: requests.Session) -> tuple[float, requests.Response]:
    started = time.perf_counter()
    response = session.send(session.prepare_request(call))
    return (time.perf_counter() - started) * 1000, response


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def test_a_hung_cache_is_skipped_within_three_requests_and_used_again_once_it_answers(hung: Hung) -> None:
    ids = {"client_id": "hungco", "user_id": "hana", "app_id": "web", "project_id": "p1"}
    sid = "session:hungco:hana:web:p1"
    offset = hung.log.stat().st_size
    assert hung.api.post(f"{hung.url}/api/session/init", json=ids, timeout=10).status_code == 200
    read = requests.Request("GET", f"{hung.url}/api/session/state", params={"session_id": sid})
    assert hung.api.send(hung.api.prepare_request(read), timeout=10).json()["source"] == "cache"

    def update(n: int) -> requests.Request:
        return requests.Request(
            "PATCH", f"{hung.url}/api/session/update", json={"session_id": sid, "key": "n", "value": n}
        )

    reads: list[float] = []
    writes: list[float] = []
    hung.redis.pause()
    try:
        for n in range(40):
            elapsed, response = timed(read, hung.api)
            assert response.status_code == 200, response.text
            assert response.json()["source"] == "store"
            reads.append(elapsed)
            elapsed, response = timed(update(n), hung.api)
            assert response.status_code == 200, response.text
            writes.append(elapsed)
    finally:
        hung.redis.resume()
        resumed = time.monotonic()

    # Once it answers: a write reaches the cache again, and the next read is served from it.
    recovery = None
    n = 1000
    while time.monotonic() - resumed < 4 * GOAL_RECOVERY_S:
        n += 1
        written = hung.api.send(hung.api.prepare_request(update(n)), timeout=10).json()
        state = hung.api.send(hung.api.prepare_request(read), timeout=10).json()
        if state["source"] == "cache" and state["version"] == written["version"]:
            recovery = time.monotonic() - resumed
            break
        time.sleep(0.05)

    warm_reads, warm_writes = reads[OPENING:], writes[OPENING:]
    print()
    print(f"cache hung (SIGSTOP), STATEWAY_REDIS_TIMEOUT_MS={TIMEOUT_MS}, 40 reads and 40 updates")
    print(f"{'':<8}{'first 3 (ms)':>24}{'p50 after (ms)':>16}{'p95 after (ms)':>16}{'goal p95':>10}")
    for name, first, rest in (
        ("read", reads[:OPENING], warm_reads),
        ("update", writes[:OPENING], warm_writes),
    ):
        shown = " ".join(f"{v:.0f}" for v in first)
        print(f"{name:<8}{shown:>24}{statistics.median(rest):>16.1f}{p95(rest):>16.1f}{GOAL_P95_MS:>10}")
    print(
        f"cache used again {recovery if recovery is None else round(recovery, 2)} s after it answered (goal {GOAL_RECOVERY_S} s)"
    )

    assert p95(warm_reads) <= 2 * GOAL_P95_MS
    assert p95(warm_writes) <= 2 * GOAL_P95_MS
    assert recovery is not None and recovery <= 2 * GOAL_RECOVERY_S
    # An outage, served around: logged at WARNING, never as a bug.
    assert error_lines(hung.log, offset) == []
