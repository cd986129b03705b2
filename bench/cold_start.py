"""3. Cold start: each function's import in a fresh process, beside its client libraries' floor.

Each function runs in a new interpreter (``bench/cold_child.py``): the import of
its ``app.py`` is timed with ``perf_counter`` (interpreter start-up excluded),
then its first request is served (clients built, lazy imports, first
connection). The floors are the same harness importing only the client
libraries. A separate ``-X importtime`` run lists the packages that cost the
most, by their own import time (a package's modules, not the packages they pull in).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench import document
from bench.report import Targets, heading, table
from bench.stack import ROOT, Stack
from stateway_local.functions import function_names

CHILD = ROOT / "bench" / "cold_child.py"
POWERTOOLS = "aws_lambda_powertools.logging,aws_lambda_powertools.metrics"
FLOORS = {
    "chalice + redis": "chalice,redis",
    "chalice + redis + powertools": f"chalice,redis,{POWERTOOLS}",
    "chalice + redis + pymongo": "chalice,redis,pymongo",
    "chalice + redis + pymongo + boto3": "chalice,redis,pymongo,boto3",
}
SESSION_FLOOR = "chalice + redis"
S3_CLIENT = "boto3 S3 client creation (libraries already imported)"


def floor_for(function: str) -> str:
    """The libraries a function's cold start cannot avoid: what its first call uses."""
    if function.startswith("session_"):
        return "chalice + redis + pymongo"
    return "chalice + redis + pymongo + boto3"


HEAVY_MS = 5.0


@dataclass
class ColdStart:
    name: str
    import_ms: list[float] = field(default_factory=list)
    call_ms: list[float] = field(default_factory=list)
    statuses: set[int] = field(default_factory=set)
    boto_loaded: bool = False
    pymongo_loaded: bool = False
    heavy: dict[str, tuple[float, str]] = field(default_factory=dict)


def _child(args: list[str], *, importtime: bool = False) -> tuple[dict[str, Any], str]:
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), str(CHILD), *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def phase_imports(stderr: str) -> dict[str, dict[str, float]]:
    """Own import time (ms) per top-level package and phase, from ``-X importtime`` output."""
    phase = None
    own: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for line in stderr.splitlines():
        if line.startswith("bench: "):
            phase = line.removeprefix("bench: ")
            continue
        if phase not in ("import", "first call") or not line.startswith("import time:"):
            continue
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue
        package = fields[2].strip().split(".")[0]
        own[package][phase] += int(fields[0]) / 1000
    return own


def heavy_packages(own: dict[str, dict[str, float]]) -> dict[str, tuple[float, str]]:
    """Packages whose own import time is at least ``HEAVY_MS``, with the phases that paid it."""
    result = {}
    for package, phases in own.items():
        total = sum(phases.values())
        if total >= HEAVY_MS:
            result[package] = (total, "+".join(p.replace("first call", "call") for p in phases))
    return result


def _prepare(stack: Stack) -> dict[str, str]:
    """A session and a saved project for the first requests to find."""
    from stateway.ids import ProjectRef, SessionRef
    from stateway.projects import ProjectService
    from stateway.sessions import SessionService
    from stateway.tiers.mongo_store import MongoStore, make_mongo_client
    from stateway.tiers.redis_cache import RedisCache, make_redis_client
    from stateway.tiers.s3_snapshots import S3Snapshots, make_s3_client

    client_id = f"cold{uuid.uuid4().hex[:8]}"
    settings = stack.settings()
    redis = make_redis_client(stack.redis_url, timeout_ms=500)
    mongo: Any = make_mongo_client(stack.mongodb_uri, timeout_ms=settings.mongodb_timeout_ms)
    try:
        store, cache = MongoStore(mongo[settings.mongodb_db]), RedisCache(redis)
        ref = SessionRef.of(client_id, document.USER_ID, document.APP_ID, document.PROJECT_ID)
        SessionService(store, cache, settings).init(ref, document.ENV)
        projects = ProjectService(
            store, cache, S3Snapshots(make_s3_client(timeout_ms=3000), stack.bucket), settings
        )
        saved = projects.save(ProjectRef.of(client_id, document.APP_ID, document.PROJECT_ID), {"zoom": 1})
        assert saved.snapshot_id is not None
    finally:
        redis.close()
        mongo.close()
    return {
        "client_id": client_id,
        "user_id": document.USER_ID,
        "app_id": document.APP_ID,
        "project_id": document.PROJECT_ID,
        "session_id": ref.session_id,
        "ended_id": f"session:{client_id}:{document.USER_ID}:{document.APP_ID}:gone",
        "snapshot_id": saved.snapshot_id,
    }


def _refresher(stack: Stack, prepared: dict[str, str]) -> Any:
    """Marks the prepared session and project as confirmed by the store now, before each run.

    A cached entry answers alone for STATEWAY_CACHE_VERIFY_SECONDS after the store confirmed it;
    an older one is checked with the store (which imports pymongo). The rows below measure the
    hit, as a function that serves a busy key sees it; the check is a miss's cost.
    """
    from stateway.clock import epoch_ms, utcnow
    from stateway.tiers.redis_cache import RedisCache, make_redis_client

    settings = stack.settings()
    keys = {
        prepared["session_id"]: settings.session_ttl,
        f"project_state:{prepared['client_id']}:{prepared['app_id']}:{prepared['project_id']}": settings.project_ttl,
    }
    cache = RedisCache(make_redis_client(stack.redis_url, timeout_ms=500))

    def refresh() -> None:
        for key, ttl in keys.items():
            entry = cache.get(key)
            assert entry is not None, key
            cache.put(
                key,
                entry.version,
                entry.payload,
                ttl,
                generation=entry.generation,
                verified=epoch_ms(utcnow()),
                replacing=entry,
            )

    return refresh


def run(stack: Stack, targets: Targets, *, runs: int) -> dict[str, ColdStart]:
    prepared = _prepare(stack)
    refresh = _refresher(stack, prepared)
    config = json.dumps(prepared)
    os.environ.update(stack.environ(classifier_config=json.dumps(document.CLASSIFIER_CONFIG)))
    floors: dict[str, list[float]] = {name: [] for name in [*FLOORS, S3_CLIENT]}
    results = {name: ColdStart(name) for name in function_names()}
    # One unmeasured run each first, so that every run finds its bytecode already compiled.
    for modules in FLOORS.values():
        _child(["floor", modules])
    for name in results:
        _child(["function", name, config])
    for _ in range(runs):
        for floor, modules in FLOORS.items():
            floors[floor].append(_child(["floor", modules])[0]["import_ms"])
        floors[S3_CLIENT].append(_child(["s3client"])[0]["import_ms"])
        for name, result in results.items():
            refresh()
            out, _ = _child(["function", name, config])
            result.import_ms.append(out["import_ms"])
            result.call_ms.append(out["call_ms"])
            result.statuses.add(out["status"])
            # botocore's package alone is Powertools' (its user-agent hook); a client needs botocore.session.
            result.boto_loaded |= out["after_call"]["boto3"] or out["after_call"]["botocore.session"]
            result.pymongo_loaded |= out["after_call"]["pymongo"]
    for name, result in results.items():
        result.heavy = heavy_packages(phase_imports(_child(["function", name, config], importtime=True)[1]))
    floor_heavy = heavy_packages(
        phase_imports(_child(["floor", FLOORS["chalice + redis + pymongo + boto3"]], importtime=True)[1])
    )

    print(heading("3. Cold start (fresh process per run)"))
    print(
        f"Median of {runs} runs. import: perf_counter around the import of the function's app.py "
        "(interpreter start-up excluded). first call: the first request after it (clients built, "
        "lazy imports, first connections to the local servers)."
    )
    print()
    print(table(["floor", "median ms"], [[n, f"{statistics.median(v):.1f}"] for n, v in floors.items()]))
    print()
    floor_ms = {n: statistics.median(v) for n, v in floors.items()}
    rows = []
    for name, r in results.items():
        imp, call = statistics.median(r.import_ms), statistics.median(r.call_ms)
        floor_value = floor_ms[floor_for(name)]
        rows.append(
            [
                name,
                f"{imp:.1f}",
                f"{call:.1f}",
                f"{imp + call:.1f}",
                floor_for(name).removeprefix("chalice + redis + ").replace("pymongo", "+pymongo"),
                f"{imp + call - floor_value:+.1f}",
                "/".join(str(s) for s in sorted(r.statuses)),
                "yes" if r.boto_loaded else "no",
                "yes" if r.pymongo_loaded else "no",
            ]
        )
    headers = [
        "function",
        "import ms",
        "first call ms",
        "total ms",
        "floor",
        "total - floor ms",
        "status",
        "boto3",
        "pymongo",
    ]
    print(table(headers, rows))
    print()
    print(
        "floor: the import of chalice + redis and what the first call needs (+pymongo; + boto3). "
        "total - floor: everything else in a cold start: the layer's own imports, building the "
        "clients (the S3 client's creation is its own floor row), first connections, the operation. "
        "boto3: boto3 or botocore.session in sys.modules after the first call (botocore's package "
        "alone is imported by Powertools). pymongo: the MongoDB driver imported by the first call "
        "(session_state and project_load are served by the cache: an entry the store confirmed within "
        "STATEWAY_CACHE_VERIFY_SECONDS)."
    )
    print()
    print(
        f"Packages with ≥ {HEAVY_MS:.0f} ms own import time (ms; i = at import, c = during the first call):"
    )
    print()
    for name, r in results.items():
        print(f"- {name}: {_heavy_text(r.heavy)}")
    print(f"- floor (chalice + redis + pymongo + boto3): {_heavy_text(floor_heavy)}")
    limit = floor_ms[SESSION_FLOOR] + 30
    sessions = [r for name, r in results.items() if name.startswith("session_")]
    worst = max(sessions, key=lambda r: statistics.median(r.import_ms))
    worst_ms = statistics.median(worst.import_ms)
    targets.check(
        worst_ms <= limit,
        f"session function cold import ≤ (chalice + redis) + 30 ms: slowest {worst.name} "
        f"{worst_ms:.1f} ms ≤ {limit:.1f} ms",
    )
    powertools_ms = floor_ms["chalice + redis + powertools"] - floor_ms[SESSION_FLOOR]
    targets.check(
        powertools_ms <= 15,
        f"Powertools (Logger + metrics) adds ≤ 15 ms to a session function's cold import: {powertools_ms:+.1f} ms",
    )
    cached_reads = [results[n] for n in ("session_state", "project_load") if n in results]
    targets.check(
        not any(r.pymongo_loaded for r in cached_reads),
        "a cache-served session state and project load never import pymongo",
    )
    importing = [r.name for r in sessions if r.boto_loaded or "boto3" in r.heavy]
    targets.check(
        not importing,
        "no session function imports boto3 (import and first call)"
        + (f": imported by {', '.join(importing)}" if importing else ""),
    )
    return results


def _heavy_text(heavy: dict[str, tuple[float, str]]) -> str:
    tags = {"import": "i", "call": "c", "import+call": "i+c", "call+import": "i+c"}
    return ", ".join(
        f"{pkg} {ms:.0f}" + (f" {tags.get(phase, phase)}" if phase else "")
        for pkg, (ms, phase) in sorted(heavy.items(), key=lambda kv: -kv[1][0])
    )
