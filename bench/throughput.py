"""5. Update throughput: 1, 4 and 8 concurrent writers on one session, through the service.

Each writer is a thread calling ``SessionService.update_key`` for a fixed time,
cycling over 16 keys of its own (``w<writer>k<0..15>``, so the document keeps
its size), sharing one service (one Redis pool, one MongoClient, as threads in
a warm process would). Afterwards the stored session must hold, for every key,
the last value its writer had acknowledged, and a version that grew by exactly
the number of acknowledged writes; the cache must hold that same version and
state (an older write never replaced a newer entry).
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bench import document
from bench.report import Targets, heading, table
from bench.stack import Stack, group_cpu_seconds
from stateway import documents

LEVELS = (1, 4, 8)
KEYS_PER_WRITER = 16


@dataclass(frozen=True)
class Level:
    writers: int
    acknowledged: int
    errors: int
    seconds: float
    version_gain: int
    wrong_values: int
    cache_matches: bool
    document_bytes: int
    median_ms: float
    cpu: dict[str, float | None]
    """Share of one core used during the level: the bench process, and each server."""

    @property
    def ops_per_s(self) -> float:
        return self.acknowledged / self.seconds

    @property
    def lost(self) -> int:
        return max(self.wrong_values, self.acknowledged - self.version_gain)


def _level(service: Any, store: Any, cache: Any, writers: int, seconds: float, pids: dict[str, int]) -> Level:
    from stateway.ids import SessionRef

    ref = SessionRef.of(
        f"writers{uuid.uuid4().hex[:8]}", document.USER_ID, document.APP_ID, document.PROJECT_ID
    )
    service.init(ref, document.ENV)
    start_version = service.update_key(ref, "navigation", document.navigation()).version
    acknowledged = [0] * writers
    last: dict[str, int] = {}
    latencies: list[list[float]] = [[] for _ in range(writers)]
    errors = [0] * writers
    barrier = threading.Barrier(writers + 1)
    deadline = 0.0

    def write(w: int) -> None:
        barrier.wait()
        i = 0
        while time.perf_counter() < deadline:
            key = f"w{w}k{i % KEYS_PER_WRITER}"
            began = time.perf_counter()
            try:
                service.update_key(ref, key, i)
            except Exception:
                errors[w] += 1
            else:
                acknowledged[w] += 1
                last[key] = i
                latencies[w].append(time.perf_counter() - began)
            i += 1

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    cpu_before = _cpu(pids)
    deadline = time.perf_counter() + seconds
    began = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - began
    cpu_after = _cpu(pids)
    cpu = {
        name: None if cpu_before[name] is None else (cpu_after[name] - cpu_before[name]) / took  # type: ignore[operator]
        for name in cpu_before
    }

    stored = store.get_session(ref.session_id)
    entry = cache.get(ref.session_id)
    wrong = sum(1 for key, value in last.items() if stored.state.get(key) != value)
    cache_matches = entry is not None and entry.version == stored.version
    if cache_matches:
        assert entry is not None
        cache_matches = documents.loads(entry.payload) == stored.state
    return Level(
        writers,
        sum(acknowledged),
        sum(errors),
        took,
        stored.version - start_version,
        wrong,
        cache_matches,
        len(documents.dumps(stored.state)),
        statistics.median(x for xs in latencies for x in xs) * 1000,
        cpu,
    )


def _cpu(pids: dict[str, int]) -> dict[str, float | None]:
    usage = {"bench": time.process_time()}
    return {**usage, **{name: group_cpu_seconds(pid) for name, pid in pids.items()}}


def run(stack: Stack, targets: Targets, *, seconds: float) -> list[Level]:
    from stateway.sessions import SessionService
    from stateway.tiers.mongo_store import MongoStore, make_mongo_client
    from stateway.tiers.redis_cache import RedisCache, make_redis_client

    settings = stack.settings(classifier_config=document.CLASSIFIER_CONFIG)
    redis = make_redis_client(stack.redis_url, timeout_ms=settings.redis_timeout_ms)
    mongo: Any = make_mongo_client(stack.mongodb_uri, timeout_ms=settings.mongodb_timeout_ms)
    try:
        store, cache = MongoStore(mongo[settings.mongodb_db]), RedisCache(redis)
        service = SessionService(store, cache, settings)
        _level(service, store, cache, 1, 0.2, stack.pids)  # warm the pools and the cache script
        levels = [_level(service, store, cache, n, seconds, stack.pids) for n in LEVELS]
    finally:
        redis.close()
        mongo.close()

    print(heading("5. Update throughput: concurrent writers on one session"))
    print(
        f"Threads in one process calling SessionService.update_key for {seconds:g} s each, "
        f"each writer cycling over {KEYS_PER_WRITER} keys of its own; then the stored session "
        f"(about {levels[-1].document_bytes:,} bytes of JSON at the end) and the cache are checked."
    )
    print()
    rows = [
        [
            lv.writers,
            f"{lv.ops_per_s:.0f}",
            f"{lv.acknowledged:,}",
            lv.errors,
            f"{lv.version_gain:,}",
            lv.wrong_values,
            "yes" if lv.cache_matches else "no",
            lv.lost,
            f"{lv.median_ms:.1f}",
            *(_share(lv.cpu[name]) for name in ("bench", "mongo", "redis")),
        ]
        for lv in levels
    ]
    headers = [
        "writers",
        "ops/s",
        "acknowledged",
        "errors",
        "version +",
        "wrong values",
        "cache = store",
        "lost",
        "median ms/write",
        "CPU bench",
        "CPU Mongo server",
        "CPU Redis",
    ]
    print(table(headers, rows))
    print()
    print("CPU: share of one core used during the level (this process; each server's process group).")
    lost = sum(lv.lost for lv in levels)
    stale = [lv.writers for lv in levels if not lv.cache_matches]
    targets.check(lost == 0, f"0 lost updates under 1/4/8 concurrent writers: {lost} lost")
    targets.check(
        not stale,
        "the cache ends on the stored version and state at every level"
        + (f" (not at {stale})" if stale else ""),
    )
    return levels


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"
