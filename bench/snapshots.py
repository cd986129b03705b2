"""4. Newest-snapshot lookup at 1, 1,000 and 10,000 snapshots of one project.

``S3Snapshots.newest(prefix)`` through a counting boto3 client against moto's
S3 server (real HTTP). The first snapshot is written through the layer
(``S3Snapshots.put``); the rest are seeded straight into the moto backend that
serves the bucket, under the names the layer gives them (``object_name``):
moto's server takes about 5 ms per PUT here, which would spend most of a minute
on 10,000 objects without changing what is measured. Every seeded key is then
counted back through the S3 API.
"""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.report import Targets, heading, table
from bench.stack import Counts, Stack, counting_s3

LOOKUPS = 20


@dataclass(frozen=True)
class Lookup:
    label: str
    snapshots: int
    bucket_objects: int
    requests: float
    median_ms: float
    newest_version: int


def _moto_backend(bucket: str) -> Any:
    """The in-process moto backend that holds ``bucket`` (MotoS3Server runs in this process)."""
    from moto.s3.models import s3_backends

    for account in list(s3_backends):
        for backend in s3_backends[account].values():
            if bucket in backend.buckets:
                return backend
    raise RuntimeError(f"bucket {bucket} is not served by an in-process moto backend")


def _seed(backend: Any, bucket: str, prefix: str, versions: range, start: datetime) -> None:
    from stateway import documents
    from stateway.clock import isoformat
    from stateway.tiers.s3_snapshots import object_name

    for version in versions:
        saved_at = start + timedelta(seconds=version)
        body = documents.dumps({"version": version, "saved_at": isoformat(saved_at), "state": {}})
        backend.put_object(bucket, prefix + object_name(version, saved_at), body)


def _count_keys(client: Any, bucket: str, prefix: str) -> int:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sum(page.get("KeyCount", 0) for page in pages)


def run(stack: Stack, targets: Targets, *, sizes: tuple[int, ...]) -> list[Lookup]:
    from stateway.ids import ProjectRef
    from stateway.tiers.s3_snapshots import S3Snapshots

    counts = Counts()
    client = counting_s3(counts)
    snapshots = S3Snapshots(client, stack.bucket)
    backend = _moto_backend(stack.bucket)
    uid = uuid.uuid4().hex[:8]
    prefix = ProjectRef.of(f"snap{uid}", "web", "big").snapshot_prefix
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def bucket_objects() -> int:
        return len(backend.buckets[stack.bucket].keys)

    def lookup(label: str, where: str, expected: int) -> Lookup:
        snapshots.newest(where)  # warm
        counts.reset()
        took = []
        newest = None
        for _ in range(LOOKUPS):
            began = time.perf_counter()
            newest = snapshots.newest(where)
            took.append((time.perf_counter() - began) * 1000)
        assert newest is not None and newest.version == expected, (newest, expected)
        requests = sum(counts.s3.values()) / LOOKUPS
        return Lookup(label, expected, bucket_objects(), requests, statistics.median(took), newest.version)

    results = []
    created = 0
    for size in sizes:
        if created == 0:
            snapshots.put(prefix, 1, start + timedelta(seconds=1), b'{"version":1,"state":{}}')
            created = 1
        seeding = time.perf_counter()
        _seed(backend, stack.bucket, prefix, range(created + 1, size + 1), start)
        created = size
        seeded_s = time.perf_counter() - seeding
        assert _count_keys(client, stack.bucket, prefix) == size
        results.append(lookup(f"{size:,} snapshot{'s' if size > 1 else ''}", prefix, size))
        if seeded_s > 1:
            print(f"(seeded {size:,} snapshots in {seeded_s:.1f} s)")

    # Control: a project with one snapshot, in the same (now large) bucket.
    other = ProjectRef.of(f"snap{uid}", "web", "small").snapshot_prefix
    snapshots.put(other, 1, start, b'{"version":1,"state":{}}')
    results.append(lookup("1 snapshot, another project in the same bucket", other, 1))

    print(heading("4. Newest-snapshot lookup (S3Snapshots.newest)"))
    print(f"Median of {LOOKUPS} lookups each, moto's S3 server over HTTP on loopback.")
    print()
    rows = [
        [r.label, f"{r.bucket_objects:,}", f"{r.requests:g}", f"{r.median_ms:.1f}", r.newest_version]
        for r in results
    ]
    print(table(["project holds", "objects in bucket", "S3 requests", "median ms", "newest version"], rows))
    counts_seen = {r.requests for r in results}
    targets.check(
        len(counts_seen) == 1,
        "snapshot lookup: the same number of S3 requests at every size ("
        + ", ".join(f"{r.snapshots:,}: {r.requests:g}" for r in results[:-1])
        + ")",
    )
    return results
