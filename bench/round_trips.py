"""2. Round trips per operation: Redis, MongoDB and S3 requests, counted at the clients.

The services are built directly over instrumented clients. Every operation is
measured warm (connections open, the cache script loaded), so the counts are
what a warm function pays per request. Redis round trips are counted at the
connection (a pipeline is one); Redis commands come from ``INFO
commandstats`` deltas, MongoDB commands from a ``CommandListener``, S3
requests from a botocore ``before-send`` hook.

The session write path is counted again against a real 3-master Redis
Cluster through the layer's cluster client: there a pipeline is one request
to each master it touches, so a write whose session key and namespace set
live on different masters costs one more Redis round trip.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import document
from bench.report import Targets, heading, table
from bench.stack import (
    Counts,
    Stack,
    counting_mongo,
    counting_redis,
    counting_s3,
    redis_commandstats,
    running_cluster,
)

END_ALL = "session end all (2 sessions)"
CLUSTER_OPERATIONS = (
    "session init (new session)",
    "session init (existing, cached)",
    "session update key",
    "session add navigation",
    "session end",
    END_ALL,
)


@dataclass(frozen=True)
class Trips:
    operation: str
    redis_trips: int
    redis_commands: Counter[str]
    mongo: Counter[str]
    s3: Counter[str]
    redis_ports: Counter[int]

    @property
    def total(self) -> int:
        return self.redis_trips + sum(self.mongo.values()) + sum(self.s3.values())


def _names(counter: Counter[str]) -> str:
    return ", ".join(f"{name} x{n}" if n > 1 else name for name, n in sorted(counter.items())) or "—"


def _measure(
    counts: Counts,
    commandstats: Callable[[], Counter[str]],
    operation: str,
    action: Callable[[], Any],
    prepare: Callable[[], Any] | None = None,
) -> Trips:
    if prepare is not None:
        prepare()
    before = commandstats()
    counts.reset()
    action()
    return Trips(
        operation,
        counts.redis,
        commandstats() - before,
        Counter(counts.mongo),
        Counter(counts.s3),
        Counter(counts.redis_ports),
    )


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
        other = SessionRef.of(ref.client_id, ref.user_id, ref.app_id, "p2")

        def measure(
            operation: str, action: Callable[[], Any], prepare: Callable[[], Any] | None = None
        ) -> Trips:
            return _measure(counts, lambda: redis_commandstats(admin), operation, action, prepare)

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
            measure(
                END_ALL,
                lambda: sessions.end_all(ref.client_id, ref.user_id),
                prepare=lambda: (sessions.init(ref, document.ENV), sessions.init(other, document.ENV)),
            ),
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
        with running_cluster(stack) as cluster:
            on_cluster, placement = _cluster_writes(stack, cluster, uid)
            ports = cluster.ports
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
    print()
    print(
        "Redis Cluster (3 masters, the layer's cluster client), the session write path: Redis requests counted "
        "at each master's connections (a pipeline is one request to each master it touches); per master: "
        f"requests to master 0 / 1 / 2; commands summed over the masters' INFO commandstats. {placement}"
    )
    print()
    rows = [
        [
            t.operation,
            by_name[t.operation].redis_trips,
            t.redis_trips,
            " / ".join(str(n) for n in _per_master(t, ports)),
            _names(t.redis_commands),
            sum(t.mongo.values()),
            _names(t.mongo),
            by_name[t.operation].total,
            t.total,
        ]
        for t in on_cluster
    ]
    print(
        table(
            [
                "operation",
                "Redis, single node",
                "Redis, cluster",
                "per master",
                "Redis commands (cluster)",
                "Mongo",
                "Mongo commands",
                "total, single node",
                "total, cluster",
            ],
            rows,
        )
    )
    for operation, expected in (
        ("session state (cache hit)", 1),
        ("session update key", 2),
        ("project save (existing)", 3),
    ):
        got = by_name[operation].total
        targets.check(got == expected, f"{operation}: {got} round trip(s), target {expected}")
    return results + on_cluster


def _per_master(trips: Trips, ports: list[int]) -> list[int]:
    return [trips.redis_ports.get(port, 0) for port in ports]


def _cluster_writes(stack: Stack, cluster: Any, uid: str) -> tuple[list[Trips], str]:
    """The session write path over the layer's cluster client; the trips, and where the keys live."""
    from stateway.ids import SessionRef
    from stateway.sessions import SessionService
    from stateway.tiers.mongo_store import MongoStore
    from stateway.tiers.redis_cache import RedisCache

    counts = Counts()
    settings = dataclasses.replace(
        stack.settings(classifier_config=document.CLASSIFIER_CONFIG),
        redis_url=cluster.url,
        redis_cluster=True,
    )
    redis = counting_redis(cluster.url, counts, cluster=True)
    mongo = counting_mongo(stack.mongodb_uri, counts)
    # INFO on connections of their own, one to each master.
    admins = [counting_redis(cluster.node_url(index), Counts()) for index in range(len(cluster.ports))]
    try:
        sessions = SessionService(MongoStore(mongo[settings.mongodb_db]), RedisCache(redis), settings)
        masters = range(len(cluster.ports))
        # redis-py asks its default node (COMMAND GETKEYS) for the keys of a command it cannot parse;
        # placed apart so that such a request would show in the per-master counts.
        default_master = cluster.ports.index(redis.built.get_default_node().port)
        client_id = next(
            candidate
            for candidate in (f"tripscl{uid}{n}" for n in range(1000))
            if cluster.node_for_key(SessionRef.of(candidate, "alice", "web", "p0").namespace)
            != default_master
        )
        namespace_master = cluster.node_for_key(SessionRef.of(client_id, "alice", "web", "p0").namespace)

        def on(master: int, start: int = 0) -> SessionRef:
            for n in range(start, 1000):
                candidate = SessionRef.of(client_id, "alice", "web", f"p{n}")
                if cluster.node_for_key(candidate.session_id) == master:
                    return candidate
            raise AssertionError(f"no session id on master {master}")

        # The namespace set, the measured session and the default node each on a master of
        # their own; end all's second session on the default node's master.
        (ref_master,) = (m for m in masters if m not in (namespace_master, default_master))
        other_master = default_master
        ref, other = on(ref_master), on(other_master)

        # Warm a connection to every master and the cache script on each before counting.
        for master in masters:
            warm = SessionRef.of(f"warmcl{uid}", "alice", "web", on(master).project_id)
            sessions.init(warm, document.ENV)
            sessions.update_key(warm, "theme", "dark")
            sessions.state(warm)

        def stats() -> Counter[str]:
            return sum((redis_commandstats(admin) for admin in admins), Counter())

        def measure(
            operation: str, action: Callable[[], Any], prepare: Callable[[], Any] | None = None
        ) -> Trips:
            return _measure(counts, stats, operation, action, prepare)

        results = [
            measure("session init (new session)", lambda: sessions.init(ref, document.ENV)),
            measure("session init (existing, cached)", lambda: sessions.init(ref, document.ENV)),
            measure("session update key", lambda: sessions.update_key(ref, "theme", "light")),
            measure(
                "session add navigation", lambda: sessions.add_navigation(ref, document.navigation(1)[0])
            ),
            measure("session end", lambda: sessions.end(ref)),
            measure(
                END_ALL,
                lambda: sessions.end_all(client_id, "alice"),
                prepare=lambda: (sessions.init(ref, document.ENV), sessions.init(other, document.ENV)),
            ),
        ]
        assert [t.operation for t in results] == list(CLUSTER_OPERATIONS)
        assert sessions.list_sessions(client_id, "alice").sessions == []
    finally:
        for client in (redis, mongo, *admins):
            client.close()
    placement = (
        f"The measured session's key is on master {ref_master}, its namespace set on master "
        f"{namespace_master}; end all's second session is on master {other_master}; redis-py's default "
        f"node (which would answer a COMMAND GETKEYS, if one were sent) is master {default_master}."
    )
    return results, placement
