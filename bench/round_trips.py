"""2. Round trips per operation: Redis, MongoDB and S3 requests, counted at the clients.

The services are built directly over instrumented clients. Every operation is
measured warm (connections open, the cache script loaded), so the counts are
what a warm function pays per request. Redis round trips are counted at the
connection (a pipeline is one); Redis commands come from ``INFO
commandstats`` deltas, MongoDB commands from a ``CommandListener``, S3
requests from a botocore ``before-send`` hook.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import document
from bench.report import Targets, heading, table
from bench.stack import Counts, Stack, counting_mongo, counting_redis, counting_s3, redis_commandstats


@dataclass(frozen=True)
class Trips:
    operation: str
    redis_trips: int
    redis_commands: Counter[str]
    mongo: Counter[str]
    s3: Counter[str]

    @property
    def total(self) -> int:
        return self.redis_trips + sum(self.mongo.values()) + sum(self.s3.values())


def _names(counter: Counter[str]) -> str:
    return ", ".join(f"{name} x{n}" if n > 1 else name for name, n in sorted(counter.items())) or "—"


def run(stack: Stack, targets: Targets) -> list[Trips]:
    from stateway.ids import ProjectRef, SessionRef
    from stateway.projects import ProjectService
    from stateway.sessions import SessionService
    from stateway.tiers.mongo_store import MongoStore
    from stateway.tiers.redis_cache import RedisCache
    from stateway.tiers.s3_snapshots import S3Snapshots

    counts = Counts()
    settings = stack.settings(classifier_config=document.CLASSIFIER_CONFIG)
    redis = counting_redis(stack.redis_url, counts)
    mongo = counting_mongo(stack.mongodb_uri, counts)
    s3 = counting_s3(counts)
    admin = counting_redis(stack.redis_url, Counts())  # reads INFO on a connection of its own
    try:
        db = mongo[settings.mongodb_db]
        store = MongoStore(db)
        store.ensure_indexes()
        cache = RedisCache(redis)
        sessions = SessionService(store, cache, settings)
        projects = ProjectService(store, cache, S3Snapshots(s3, stack.bucket), settings)
        uid = uuid.uuid4().hex[:8]
        ref = SessionRef.of(f"trips{uid}", "alice", "web", "p1")
        project = ProjectRef.of(f"trips{uid}", "web", "p1")
        state = document.session_state()

        # Warm every connection and the cache script before anything is counted.
        warm = SessionRef.of(f"warm{uid}", "alice", "web", "p1")
        sessions.init(warm, document.ENV)
        sessions.update_key(warm, "theme", "dark")
        projects.save(ProjectRef.of(f"warm{uid}", "web", "p1"), {"zoom": 1})
        projects.load(ProjectRef.of(f"warm{uid}", "web", "p1"))

        current: dict[str, int] = {}

        def measure(
            operation: str, action: Callable[[], Any], prepare: Callable[[], Any] | None = None
        ) -> Trips:
            if prepare is not None:
                prepare()
            before = redis_commandstats(admin)
            counts.reset()
            action()
            trips = Trips(
                operation,
                counts.redis,
                redis_commandstats(admin) - before,
                Counter(counts.mongo),
                Counter(counts.s3),
            )
            return trips

        results = [
            measure("session init (new session)", lambda: sessions.init(ref, document.ENV)),
            measure("session init (existing, cached)", lambda: sessions.init(ref, document.ENV)),
            measure("session state (cache hit)", lambda: sessions.state(ref)),
            measure(
                "session state (cache miss)",
                lambda: sessions.state(ref),
                prepare=lambda: redis.delete(ref.session_id),
            ),
            measure("session update key", lambda: sessions.update_key(ref, "theme", "light")),
            measure(
                "session update key (If-Match)",
                lambda: sessions.update_key(ref, "theme", "dark", expected_version=current["version"]),
                prepare=lambda: current.update(version=sessions.state(ref).version),
            ),
            measure(
                "session add navigation", lambda: sessions.add_navigation(ref, document.navigation(1)[0])
            ),
            measure("session end", lambda: sessions.end(ref)),
            measure("project save (first)", lambda: projects.save(project, state)),
            measure("project save (existing)", lambda: projects.save(project, state)),
            measure("project load (cache)", lambda: projects.load(project)),
            measure(
                "project load (store)",
                lambda: projects.load(project),
                prepare=lambda: redis.delete(project.cache_key),
            ),
            measure(
                "project load (snapshot)",
                lambda: projects.load(project),
                prepare=lambda: (
                    redis.delete(project.cache_key),
                    db["project_states"].delete_one({"_id": project.store_id}),
                ),
            ),
        ]
        after = projects.load(project)
        assert after.source == "cache" and after.version == 2, after
    finally:
        for client in (redis, admin, mongo):
            client.close()

    print(heading("2. Round trips per operation (warm)"))
    print(
        "Redis: round trips counted at the connection; its commands from INFO commandstats "
        "(get/set/sadd/expire inside the cache script are counted there too). Mongo: commands "
        "(one round trip each). S3: requests. total = Redis round trips + Mongo commands + S3 requests."
    )
    print()
    rows = [
        [
            t.operation,
            t.redis_trips,
            _names(t.redis_commands),
            sum(t.mongo.values()),
            _names(t.mongo),
            sum(t.s3.values()),
            _names(t.s3),
            t.total,
        ]
        for t in results
    ]
    print(
        table(
            ["operation", "Redis", "Redis commands", "Mongo", "Mongo commands", "S3", "S3 requests", "total"],
            rows,
        )
    )
    by_name = {t.operation: t for t in results}
    for operation, expected in (
        ("session state (cache hit)", 1),
        ("session update key", 2),
        ("project save (existing)", 3),
    ):
        got = by_name[operation].total
        targets.check(got == expected, f"{operation}: {got} round trip(s), target {expected}")
    return results
