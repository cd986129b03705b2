"""The servers one benchmark run uses, and clients that count what they send.

Every server is started here on a free loopback port and stopped by PID at the
end (the same launchers as the tests and ``make dev``). Clients are built with
the layer's own factories and settings, then instrumented:

* Redis: a connection class that counts each ``send_packed_command`` (one per
  command, one per pipeline: a round trip each), beside ``INFO commandstats``;
* MongoDB: a ``pymongo.monitoring.CommandListener`` on the client;
* S3: a botocore ``before-send`` hook (retries are counted too).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stateway.config import Settings
from stateway_local.servers import MongoServer, MotoS3Server, RedisServer, create_bucket

ROOT = Path(__file__).resolve().parents[1]

if TYPE_CHECKING:
    from stateway_local.redis_cluster import RedisClusterServer

BUCKET = "stateway-bench-snapshots"

# moto accepts any credentials; these keep boto3 from looking for real ones (as the tests do).
for _name, _value in (
    ("AWS_ACCESS_KEY_ID", "stateway-bench"),
    ("AWS_SECRET_ACCESS_KEY", "stateway-bench"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
):
    os.environ.setdefault(_name, _value)


@dataclass(frozen=True)
class Stack:
    redis_url: str
    mongodb_uri: str
    s3_endpoint: str
    bucket: str
    workdir: Path
    s3_server: MotoS3Server
    pids: dict[str, int]
    """Process-group leaders of the server processes: ``redis``, ``mongo``."""

    def settings(self, **overrides: Any) -> Settings:
        return Settings(
            redis_url=self.redis_url,
            mongodb_uri=self.mongodb_uri,
            snapshot_bucket=self.bucket,
            **overrides,
        )

    def environ(self, classifier_config: str = "{}") -> dict[str, str]:
        """The variables a deployed function reads, pointing at this stack."""
        return {
            "REDIS_URL": self.redis_url,
            "MONGODB_URI": self.mongodb_uri,
            "AWS_ENDPOINT_URL_S3": self.s3_endpoint,
            "STATEWAY_SNAPSHOT_BUCKET": self.bucket,
            "STATEWAY_CLASSIFIER_CONFIG": classifier_config,
        }


@contextmanager
def running_stack() -> Iterator[Stack]:
    """Redis, the MongoDB-protocol server and moto's S3, each stopped on the way out."""
    with tempfile.TemporaryDirectory(prefix="stateway-bench-") as tmp:
        workdir = Path(tmp)
        with (
            RedisServer(workdir / "redis") as redis,
            MongoServer(workdir / "mongo") as mongo,
            MotoS3Server() as s3,
        ):
            create_bucket(s3.endpoint, BUCKET)
            assert redis.proc is not None and mongo.proc is not None
            pids = {"redis": redis.proc.pid, "mongo": mongo.proc.pid}
            yield Stack(redis.url, mongo.uri, s3.endpoint, BUCKET, workdir, s3, pids)


@contextmanager
def running_cluster(stack: Stack) -> Iterator[RedisClusterServer]:
    """A 3-master Redis Cluster (no replicas) on loopback beside the stack, stopped on the way out."""
    from stateway_local.redis_cluster import RedisClusterServer

    workdir = Path(tempfile.mkdtemp(prefix="redis-cluster-", dir=stack.workdir))
    with RedisClusterServer(workdir) as cluster:
        yield cluster


# Counting clients -------------------------------------------------------------------


@dataclass
class Counts:
    """Requests sent to each tier since the last ``reset()``."""

    redis: int = 0
    redis_ports: Counter[int] = field(default_factory=Counter)
    """Redis round trips by server port (one port, or one per master of a cluster)."""
    mongo: Counter[str] = field(default_factory=Counter)
    s3: Counter[str] = field(default_factory=Counter)

    def reset(self) -> None:
        self.redis = 0
        self.redis_ports.clear()
        self.mongo.clear()
        self.s3.clear()


def counting_redis(url: str, counts: Counts, timeout_ms: int = 500, *, cluster: bool = False) -> Any:
    """The layer's Redis client, with every round trip counted into ``counts``.

    With ``cluster`` the layer's cluster client, built here (it reads the slot
    map) so that each master's connection pool can be instrumented: a pipeline
    that touches keys on two masters is one request to each, two round trips.
    """
    from redis.connection import Connection

    from stateway.tiers.redis_cache import make_redis_client

    class CountingConnection(Connection):
        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            counts.redis += 1
            counts.redis_ports[self.port] += 1
            super().send_packed_command(command, check_health)

    client = make_redis_client(url, timeout_ms=timeout_ms, cluster=cluster)
    pools = (
        [node.redis_connection.connection_pool for node in client.built.get_nodes()]
        if cluster
        else [client.connection_pool]
    )
    for pool in pools:
        # Connections the pool already made (the cluster client's, reading the slot map)
        # are dropped, so that every connection from now on is a counting one.
        pool.connection_class = CountingConnection
        pool.disconnect()
        pool.reset()
    return client


def counting_mongo(uri: str, counts: Counts, timeout_ms: int = 3000) -> Any:
    """A MongoClient built as ``stateway.runtime`` builds it, with a command listener."""
    from pymongo import monitoring

    from stateway.tiers.mongo_store import make_mongo_client

    class Listener(monitoring.CommandListener):
        def started(self, event: monitoring.CommandStartedEvent) -> None:
            counts.mongo[event.command_name] += 1

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            pass

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            pass

    return make_mongo_client(uri, timeout_ms=timeout_ms, event_listeners=[Listener()])


def counting_s3(counts: Counts, timeout_ms: int = 3000) -> Any:
    """The layer's S3 client (endpoint from ``AWS_ENDPOINT_URL_S3``), each request counted."""
    from stateway.tiers.s3_snapshots import make_s3_client

    client = make_s3_client(timeout_ms=timeout_ms)

    def before_send(event_name: str, **_: Any) -> None:
        # event_name is "before-send.s3.<Operation>"; a retried request is sent, and counted, again.
        counts.s3[event_name.rsplit(".", 1)[-1]] += 1

    client.meta.events.register("before-send.s3", before_send)
    return client


def redis_commandstats(client: Any) -> Counter[str]:
    """Calls per command from ``INFO commandstats`` (the ``info`` calls themselves left out)."""
    stats = client.info("commandstats")
    calls: Counter[str] = Counter()
    for name, value in stats.items():
        command = name.removeprefix("cmdstat_")
        if command != "info":
            calls[command] = int(value["calls"])
    return calls


def group_cpu_seconds(pgid: int) -> float | None:
    """CPU seconds (user + system) used so far by every process in group ``pgid``; None off Linux."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp, ..., utime (12th), stime (13th).
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks
