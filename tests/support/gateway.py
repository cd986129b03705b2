"""The local gateway (``python -m stateway_local.run``) as a real HTTP server, for the end-to-end suites.

:func:`serve` gives it a MongoDB-protocol server of its own (the suites stop and restart
it), the cache and S3 endpoint it is given, and a signing secret of the test's.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from stateway_local.devtoken import mint
from stateway_local.redis_cluster import RedisClusterServer
from stateway_local.servers import MongoServer, free_port

# What every test gateway is started with, besides its servers and secret.
GATEWAY_ENV = {
    "STATEWAY_MONGODB_TIMEOUT_MS": "1500",
    "STATEWAY_MAX_STATE_BYTES": "65536",
}


@dataclass
class Gateway:
    url: str
    secret: str
    mongo: MongoServer
    process: subprocess.Popen[str]
    log_path: Path | None = None
    cluster: RedisClusterServer | None = None

    def token(
        self, user: str, client: str, *, ttl: int = 600, secret: str | None = None, **extra: Any
    ) -> str:
        """A token this gateway accepts (signed with ``secret`` instead: one it refuses)."""
        return mint(user, client, secret or self.secret, ttl=ttl, claims=extra)

    def session(self, user: str, client: str) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {self.token(user, client)}"
        return s


def start_gateway(workdir: Path, env_overrides: dict[str, str]) -> tuple[str, subprocess.Popen[str]]:
    """Start the gateway on a free loopback port, logging to ``workdir/gateway.log``; wait for its health."""
    port = free_port()
    env = {**os.environ, **env_overrides, "STATEWAY_HOST": "127.0.0.1", "STATEWAY_PORT": str(port)}
    log = open(workdir / "gateway.log", "w")  # noqa: SIM115 - the process owns it until it exits
    process = subprocess.Popen(
        [sys.executable, "-m", "stateway_local.run"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((workdir / "gateway.log").read_text()[-3000:])
        try:
            if requests.get(f"{url}/api/health", timeout=1).status_code == 200:
                return url, process
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.kill()
    raise TimeoutError((workdir / "gateway.log").read_text()[-3000:])


def error_lines(log_path: Path, offset: int = 0) -> list[str]:
    """The ERROR records a gateway logged after ``offset`` (bugs: an outage is a WARNING)."""
    if not log_path.exists():
        return []
    with open(log_path, errors="replace") as log:
        log.seek(offset)
        return [line.rstrip() for line in log if " ERROR " in line]


def stop_gateway(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serve(
    workdir: Path,
    s3_endpoint: str,
    bucket: str,
    cache: dict[str, str],
    cluster: RedisClusterServer | None = None,
) -> Iterator[Gateway]:
    """A gateway over a MongoDB-protocol server of its own, the given cache and the shared S3."""
    secret = secrets.token_urlsafe(24)
    with MongoServer(workdir / "mongo") as mongo:
        env = {
            **cache,
            "MONGODB_URI": mongo.uri,
            "AWS_ENDPOINT_URL_S3": s3_endpoint,
            "STATEWAY_SNAPSHOT_BUCKET": bucket,
            "STATEWAY_JWT_SECRET": secret,
            **GATEWAY_ENV,
        }
        url, process = start_gateway(workdir, env)
        try:
            yield Gateway(url, secret, mongo, process, workdir / "gateway.log", cluster)
        finally:
            stop_gateway(process)
