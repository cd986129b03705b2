"""1. Hot session read: the session_state function against redis-py and Django, same Redis.

Every contender reads the same document from the same Redis, warm, on a cache
hit. Rounds interleave the contenders (in a rotating order) so that drift in
the machine touches them all alike.

One more row reads the same document through the layer's Redis Cluster client
from a real 3-master cluster on loopback: one session on each master, read in
turn, so that every call is routed by its slot. It is timed in the same rounds
as the single-node rows and compared with the single-node
``SessionService.state()`` row.
"""

from __future__ import annotations

import cProfile
import dataclasses
import functools
import itertools
import json
import os
import pstats
import statistics
import string
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest import mock

import orjson

from bench import document
from bench.functions import invoke
from bench.report import Summary, Targets, heading, summarize, table, time_calls
from bench.stack import Stack, running_cluster
from stateway_local.functions import load_app

FLOOR = "redis-py GET + orjson.loads"
FUNCTION = "Stateway session_state function (HTTP API 1.0 event)"
DJANGO = "Django cached_db SessionStore(key).load()"
SINGLE = "Stateway SessionService.state()"
CLUSTER = "Stateway SessionService.state(), Redis Cluster (3 masters)"
CLUSTER_TARGET = 1.10


@dataclass
class HotReadResult:
    summaries: dict[str, Summary]
    document_bytes: int
    cluster_ratio: float
    """Median of the cluster row over the median of the single-node SessionService.state() row."""


def _seed_session(
    stack: Stack,
    session_id: str = document.SESSION_ID,
    *,
    redis_url: str | None = None,
    cluster: bool = False,
) -> bytes:
    """Create a benchmark session through the layer; return its cached JSON payload."""
    from stateway.ids import parse_session_id
    from stateway.sessions import SessionService
    from stateway.tiers.mongo_store import MongoStore, make_mongo_client
    from stateway.tiers.redis_cache import RedisCache, make_redis_client

    settings = stack.settings(classifier_config=document.CLASSIFIER_CONFIG)
    redis = make_redis_client(redis_url or stack.redis_url, timeout_ms=500, cluster=cluster)
    mongo: Any = make_mongo_client(stack.mongodb_uri, timeout_ms=settings.mongodb_timeout_ms)
    try:
        cache = RedisCache(redis)
        service = SessionService(MongoStore(mongo[settings.mongodb_db]), cache, settings)
        ref = parse_session_id(session_id)
        service.init(ref, document.ENV)
        service.update_key(ref, "navigation", document.navigation())
        for key, value in document.KEYS.items():
            service.update_key(ref, key, value)
        entry = cache.get(session_id)
        assert entry is not None
        assert orjson.loads(entry.payload) == document.session_state(ref.project_id)
        return entry.payload
    finally:
        redis.close()
        mongo.close()


def _cluster_sessions(cluster: Any) -> list[str]:
    """One session id on each master, in master order.

    Only the project id differs from the single-node session's, and it has two
    characters as ``p1`` has, so every document is the same size.
    """
    from stateway.ids import SessionRef

    found: dict[int, str] = {}
    for char in string.digits + string.ascii_lowercase:
        session_id = SessionRef.of(
            document.CLIENT_ID, document.USER_ID, document.APP_ID, f"q{char}"
        ).session_id
        found.setdefault(cluster.node_for_key(session_id), session_id)
    assert sorted(found) == list(range(len(cluster.ports))), found
    return [found[index] for index in sorted(found)]


def _getex_calls(cluster: Any) -> list[int]:
    """GETEX calls each master has served so far (``INFO commandstats``)."""
    import redis

    calls = []
    for index in range(len(cluster.ports)):
        with redis.Redis.from_url(cluster.node_url(index)) as node:
            calls.append(int(node.info("commandstats").get("cmdstat_getex", {}).get("calls", 0)))
    return calls


def _django_session(stack: Stack, workdir: str, state: dict[str, Any]) -> Callable[[], Any]:
    """Configure Django in-process (Redis cache, SQLite DB), save the state, return a hot load()."""
    import django
    from django.conf import settings
    from django.core.management import call_command

    settings.configure(
        SECRET_KEY="stateway-bench",
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.sessions"],
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(workdir, "django.db")}
        },
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": stack.redis_url,
                "KEY_PREFIX": "bench-django",
            }
        },
        SESSION_ENGINE="django.contrib.sessions.backends.cached_db",
    )
    django.setup()
    call_command("migrate", "sessions", verbosity=0, interactive=False)
    from django.contrib.sessions.backends.cached_db import SessionStore

    store = SessionStore()
    store.update(state)
    store.save()
    key = store.session_key
    assert SessionStore(session_key=key).load() == state

    def load() -> Any:
        return SessionStore(session_key=key).load()

    return load


def run(stack: Stack, targets: Targets, *, rounds: int, per_round: int) -> HotReadResult:
    with running_cluster(stack) as cluster:
        return _run(stack, cluster, targets, rounds=rounds, per_round=per_round)


def _run(stack: Stack, cluster: Any, targets: Targets, *, rounds: int, per_round: int) -> HotReadResult:
    import redis

    from stateway import runtime
    from stateway.config import get_settings
    from stateway.ids import parse_session_id
    from stateway.sessions import SessionService
    from stateway.tiers.redis_cache import RedisCache, make_redis_client
    from stateway_local.events import http_api_v1_event

    payload = _seed_session(stack)
    state = orjson.loads(payload)
    cluster_ids = _cluster_sessions(cluster)
    for session_id in cluster_ids:
        seeded = _seed_session(stack, session_id, redis_url=cluster.url, cluster=True)
        assert len(seeded) == len(payload), (len(seeded), len(payload))

    os.environ.update(stack.environ(classifier_config=json.dumps(document.CLASSIFIER_CONFIG)))
    runtime.clear_caches()
    app = load_app("session_state").app
    ref = parse_session_id(document.SESSION_ID)

    def event() -> dict[str, Any]:
        return http_api_v1_event(
            "GET", "/api/session/state", query=f"session_id={document.SESSION_ID}", claims=document.CLAIMS
        )

    status, body = invoke(app, event())
    assert status == 200 and body["source"] == "cache" and body["state"] == state, (status, body)

    plain = redis.Redis.from_url(stack.redis_url)
    plain.set("bench:floor:doc", payload)
    assert orjson.loads(plain.get("bench:floor:doc")) == state

    with tempfile.TemporaryDirectory(prefix="stateway-bench-django-") as workdir:
        django_load = _django_session(stack, workdir, state)
        service = runtime.session_service()
        ttl = get_settings().session_ttl
        # Built as runtime builds the single-node service, with STATEWAY_REDIS_CLUSTER=true.
        cluster_settings = dataclasses.replace(get_settings(), redis_url=cluster.url, redis_cluster=True)
        cluster_redis = make_redis_client(
            cluster_settings.require_redis_url(),
            timeout_ms=cluster_settings.redis_timeout_ms,
            cluster=cluster_settings.redis_cluster,
        )
        cluster_service = SessionService(runtime.store(), RedisCache(cluster_redis), cluster_settings)
        cluster_refs = [parse_session_id(session_id) for session_id in cluster_ids]
        for cluster_ref, session_id in zip(cluster_refs, cluster_ids, strict=True):
            read = cluster_service.state(cluster_ref)
            assert read.source == "cache" and orjson.loads(read.payload) == document.session_state(
                cluster_ref.project_id
            ), (session_id, read.source)
        from stateway_local.events import LambdaContext

        context = LambdaContext()

        def function_call(events: list[dict[str, Any]]) -> Callable[[], Any]:
            it = iter(events)
            return lambda: app(next(it), context)

        def cluster_call() -> Callable[[], Any]:
            # A fresh cycle per batch: sample i of a batch reads the session on master i % 3.
            it = itertools.cycle(cluster_refs)
            return lambda: cluster_service.state(next(it))

        contenders: dict[str, Callable[[int], Callable[[], Any]]] = {
            FLOOR: lambda n: lambda: orjson.loads(plain.get("bench:floor:doc")),
            "redis-py GETEX (TTL slide) + orjson.loads": lambda n: (
                lambda: orjson.loads(plain.getex("bench:floor:doc", ex=ttl))
            ),
            SINGLE: lambda n: lambda: service.state(ref),
            CLUSTER: lambda n: cluster_call(),
            FUNCTION: lambda n: function_call([event() for _ in range(n)]),
            DJANGO: lambda n: django_load,
        }
        samples: dict[str, list[int]] = {name: [] for name in contenders}
        by_round: dict[str, list[list[int]]] = {name: [] for name in contenders}
        cpu_ns: dict[str, int] = dict.fromkeys(contenders, 0)
        names = list(contenders)
        getex_before = _getex_calls(cluster)
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                warm = max(20, per_round // 20)
                time_calls(contenders[name](warm), warm)
                call = contenders[name](per_round)
                cpu_start = time.thread_time_ns()
                batch = time_calls(call, per_round)
                cpu_ns[name] += time.thread_time_ns() - cpu_start
                samples[name] += batch
                by_round[name].append(batch)
        getex_per_master = [a - b for a, b in zip(_getex_calls(cluster), getex_before, strict=True)]
        status, body = invoke(app, event())
        assert status == 200 and body["source"] == "cache" and body["state"] == state
        for cluster_ref in cluster_refs:
            assert cluster_service.state(cluster_ref).source == "cache"

    summaries = {name: summarize(s) for name, s in samples.items()}
    floor, fn, dj = summaries[FLOOR], summaries[FUNCTION], summaries[DJANGO]
    print(heading("1. Hot session read (warm, cache hit, in-process)"))
    print(
        f"Document: {len(payload):,} bytes of JSON (env, classifier_config, 20 navigation entries, 6 keys); "
        f"{rounds} interleaved rounds of {per_round:,} calls each, one Redis on loopback; the cluster row: "
        f"a 3-master Redis Cluster on loopback, {len(cluster_ids)} sessions of the same size, one on each "
        "master, read in turn."
    )
    print()
    rows = [
        [
            name,
            f"{s.median_us:.1f}",
            f"{s.p99_us:.1f}",
            f"{cpu_ns[name] / s.samples / 1000:.1f}",
            f"{s.median_us / floor.median_us:.2f}x",
            f"{s.median_us / dj.median_us:.2f}x",
        ]
        for name, s in summaries.items()
    ]
    print(table(["read", "median µs", "p99 µs", "CPU µs/call", "÷ floor", "÷ Django"], rows))
    print()
    print("CPU µs/call: this thread's CPU time (user + system, the socket calls included) per call.")
    single, clustered = summaries[SINGLE], summaries[CLUSTER]
    cluster_ratio = clustered.median_us / single.median_us
    round_ratios = [
        statistics.median(c) / statistics.median(s)
        for c, s in zip(by_round[CLUSTER], by_round[SINGLE], strict=True)
    ]
    masters = len(cluster_ids)
    per_master = [
        summarize([x for batch in by_round[CLUSTER] for x in batch[index::masters]]).median_us
        for index in range(masters)
    ]
    print()
    print(
        f"Redis Cluster row ÷ single-node ({SINGLE}): {cluster_ratio:.2f}x "
        f"({clustered.median_us:.1f} µs vs {single.median_us:.1f} µs median); the same ratio round by round: "
        f"{min(round_ratios):.2f}x to {max(round_ratios):.2f}x, median {statistics.median(round_ratios):.2f}x."
    )
    print(
        "Median by master (session id → master): "
        + "; ".join(
            f"{session_id} → {index}: {median:.1f} µs"
            for index, (session_id, median) in enumerate(zip(cluster_ids, per_master, strict=True))
        )
        + ". GETEX served by each master during the rounds (warm-up calls included): "
        + " / ".join(f"{n:,}" for n in getex_per_master)
        + "."
    )
    ratio_floor = fn.median_us / floor.median_us
    ratio_django = fn.median_us / dj.median_us
    targets.check(
        ratio_floor <= 1.25,
        f"hot read ≤ 1.25x redis-py GET + decode: {ratio_floor:.2f}x "
        f"({fn.median_us:.1f} µs vs {floor.median_us:.1f} µs median)",
    )
    targets.check(
        ratio_django <= 0.5,
        f"hot read ≤ 0.5x Django cached_db load(): {ratio_django:.2f}x "
        f"({fn.median_us:.1f} µs vs {dj.median_us:.1f} µs median)",
    )
    cluster_ok = targets.check(
        cluster_ratio <= CLUSTER_TARGET,
        f"hot read on a 3-master Redis Cluster within 10% of single-node: {cluster_ratio:.2f}x "
        f"({clustered.median_us:.1f} µs vs {single.median_us:.1f} µs median, {SINGLE})",
    )
    if ratio_floor > 1.25:
        _explain(app, event, plain, rounds, per_round)
        _profile(app, event)
    if not cluster_ok:
        _explain_cluster(cluster, cluster_redis, runtime.redis_client(), cluster_ids, ttl, rounds, per_round)
    cluster_redis.close()
    plain.delete("bench:floor:doc")
    plain.close()
    return HotReadResult(summaries, len(payload), cluster_ratio)


def _explain(app: Any, event: Callable[[], dict[str, Any]], plain: Any, rounds: int, per_round: int) -> None:
    """Where the function's time goes beyond the floor, measured piece by piece (no profiler)."""
    from chalice import Blueprint, Chalice

    from stateway import bodies, commands, http

    state = orjson.loads(plain.get("bench:floor:doc"))
    body = {"session_id": document.SESSION_ID, "state": state, "version": 9, "source": "cache"}
    payload = orjson.dumps(state)

    bare = Chalice(app_name="bench-bare")
    bare.route("/api/session/state", methods=["GET"])(lambda: {"ok": 1})
    options = Chalice(app_name="bench-options")
    options.route("/api/session/state", methods=["GET"], **http.ROUTE_OPTIONS)(lambda: {"ok": 1})
    blueprint = Blueprint("bench_http")

    @blueprint.route("/api/session/state", methods=["GET"], **http.ROUTE_OPTIONS)
    @http.endpoint(blueprint, commands.session_state)
    def no_redis(command: commands.ReadSession) -> bodies.Reply:
        return bodies.Reply({**body, "session_id": command.ref.session_id}, version=9)

    wrapped = Chalice(app_name="bench-http")
    wrapped.register_blueprint(blueprint)
    from stateway_local.events import LambdaContext

    context = LambdaContext()

    def through(target: Any, count: int) -> Callable[[], Any]:
        it = iter([event() for _ in range(count)])
        return lambda: target(next(it), context)

    from stateway import runtime
    from stateway.config import get_settings
    from stateway.ids import parse_session_id
    from stateway.sessions import SessionService
    from stateway.tiers.redis_cache import RedisCache, encode_entry

    class StubRedis:
        """Answers GETEX from memory: everything the function does except the round trip."""

        entry = encode_entry(9, payload)

        def getex(self, name: str, ex: int | None = None) -> bytes:
            return self.entry

        def register_script(self, script: str) -> None:
            return None

    stubbed = SessionService(runtime.store(), RedisCache(StubRedis()), get_settings())  # type: ignore[arg-type]
    ref = parse_session_id(document.SESSION_ID)

    steps: dict[str, Callable[[int], Callable[[], Any]]] = {
        "Chalice alone: a trivial route, the same event": lambda n: through(bare, n),
        "Chalice with the functions' ROUTE_OPTIONS (CORS, content types)": lambda n: through(options, n),
        "+ stateway.http.endpoint, session_ref, the 4 KB body (no Redis)": lambda n: through(wrapped, n),
        "SessionService.state() with Redis stubbed (layer code)": lambda n: lambda: stubbed.state(ref),
        "the whole function with Redis stubbed (all but the round trip)": lambda n: through(app, n),
        "orjson.loads of the cached document (the floor pays it; the function does not)": lambda n: (
            lambda: orjson.loads(payload)
        ),
        "orjson.dumps of the response body": lambda n: lambda: orjson.dumps(body).decode(),
        "uuid.uuid4().hex (http.endpoint makes one only when the event has no id)": lambda n: (
            lambda: uuid.uuid4().hex
        ),
    }
    samples: dict[str, list[int]] = {name: [] for name in steps}

    def stubbed_service() -> SessionService:
        return stubbed

    # Only the whole function asks runtime for its service; it gets the stubbed one.
    with mock.patch.object(runtime, "session_service", stubbed_service):
        for _ in range(rounds):
            for name, build in steps.items():
                time_calls(build(50), 50)
                samples[name] += time_calls(build(per_round), per_round)
    print()
    print("Where the function's time goes (each piece measured alone, same rounds, no profiler):")
    print()
    rows = [[name, f"{summarize(s).median_us:.1f}"] for name, s in samples.items()]
    print(table(["piece", "median µs"], rows))


def _explain_cluster(
    cluster: Any,
    cluster_redis: Any,
    single_redis: Any,
    cluster_ids: list[str],
    ttl: int,
    rounds: int,
    per_round: int,
) -> None:
    """Where the cluster row's extra time goes: the same GETEX through each client, in the same rounds."""
    from stateway.config import get_settings
    from stateway.tiers.redis_cache import make_redis_client

    timeout_ms = get_settings().redis_timeout_ms
    to_master = [
        make_redis_client(cluster.node_url(cluster.node_for_key(session_id)), timeout_ms=timeout_ms)
        for session_id in cluster_ids
    ]

    def in_turn(calls: list[Callable[[], Any]]) -> Callable[[], Any]:
        it = itertools.cycle(calls)
        return lambda: next(it)()

    def getex(client: Any, session_id: str) -> Callable[[], Any]:
        return functools.partial(client.getex, session_id, ex=ttl)

    built = cluster_redis.built
    steps: dict[str, Callable[[], Callable[[], Any]]] = {
        "single-node Redis: the layer's client, GETEX of the single-node session": lambda: in_turn(
            [getex(single_redis, document.SESSION_ID)]
        ),
        "the cluster's masters: the layer's single-node client to each session's master": lambda: in_turn(
            [getex(client, sid) for client, sid in zip(to_master, cluster_ids, strict=True)]
        ),
        "redis-py RedisCluster (the one the layer's client built), GETEX": lambda: in_turn(
            [getex(built, sid) for sid in cluster_ids]
        ),
        "the layer's cluster client (LazyClient around that RedisCluster), GETEX": lambda: in_turn(
            [getex(cluster_redis, sid) for sid in cluster_ids]
        ),
    }
    samples: dict[str, list[int]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            time_calls(steps[name](), 50)
            samples[name] += time_calls(steps[name](), per_round)
    for client in to_master:
        client.close()
    print()
    print("Where the cluster row's time goes (the same GETEX through each client, same rounds, no profiler):")
    print()
    rows = [[name, f"{summarize(s).median_us:.1f}"] for name, s in samples.items()]
    print(table(["GETEX of a cached session (4 KB), one call", "median µs"], rows))

    calls = 3000
    call = steps["the layer's cluster client (LazyClient around that RedisCluster), GETEX"]()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    raw: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    top = sorted(raw.items(), key=lambda kv: -kv[1][2])[:8]
    print()
    print(f"cProfile of {calls:,} GETEX through the layer's cluster client, the 8 largest own times:")
    print()
    rows = [
        [f"{_short(filename)}:{line} {func}", f"{ncalls / calls:.0f}", f"{tottime / calls * 1e6:.1f}"]
        for (filename, line, func), (_, ncalls, tottime, _, _) in top
    ]
    print(table(["function (own time, under the profiler)", "calls per GETEX", "µs per GETEX"], rows))


def _profile(app: Any, event: Callable[[], dict[str, Any]]) -> None:
    """cProfile of warm function calls, own time grouped by package."""
    from stateway_local.events import LambdaContext

    calls = 3000
    events = [event() for _ in range(calls)]
    context = LambdaContext()
    profiler = cProfile.Profile()
    profiler.enable()
    for e in events:
        app(e, context)
    profiler.disable()
    raw: dict[Any, Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())
    groups: dict[str, float] = {}
    for (filename, _, _), (_, _, tottime, _, _) in raw.items():
        groups[_group(filename)] = groups.get(_group(filename), 0.0) + tottime
    print()
    print(f"cProfile of {calls:,} warm calls, own time by package (the profiler inflates Python code):")
    print()
    rows = [
        [name, f"{t / calls * 1e6:.1f}", f"{t / total * 100:.0f}%"]
        for name, t in sorted(groups.items(), key=lambda kv: -kv[1])
    ]
    print(table(["own time in", "µs per call", "share"], rows))
    top = sorted(raw.items(), key=lambda kv: -kv[1][3])
    wanted = [
        "_main_rest_api_handler",
        "create_request_object",
        "to_dict",
        "handle",
        "state",
        "get",
        "to_response",
        "session_ref",
        "getex",
    ]
    rows = []
    for (filename, line, func), (_, ncalls, _, cumtime, _) in top:
        if func in wanted and ("chalice" in filename or "stateway" in filename or "redis" in filename):
            rows.append(
                [f"{_short(filename)}:{line} {func}", f"{ncalls / calls:.0f}", f"{cumtime / calls * 1e6:.1f}"]
            )
    print()
    print(table(["function (cumulative, under the profiler)", "calls per request", "µs per request"], rows))


def _group(filename: str) -> str:
    path = filename.replace("\\", "/")
    for name in ("chalice", "redis", "stateway", "orjson"):
        if f"/{name}/" in path:
            return name
    if "functions/" in path and path.endswith("app.py"):
        return "functions/*/app.py"
    if path.startswith("~") or path.startswith("<"):
        return "builtins (C: socket, json, uuid, …)"
    return "Python stdlib"


def _short(filename: str) -> str:
    path = filename.replace("\\", "/")
    for marker in ("site-packages/", "layers/stateway/", "lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path
