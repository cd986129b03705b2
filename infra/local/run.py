"""The whole Stateway API on loopback: ``make dev``, or ``python -m stateway_local.run``.

Starts whatever the environment does not give — Redis (``REDIS_URL``), a
MongoDB-protocol server (``MONGODB_URI``), an S3 endpoint
(``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``) with the snapshot bucket —
then serves the HTTP API that ``infra/template.yaml`` declares
(:mod:`stateway_local.gateway`: each route's function in processes of its
own, with the environment the template gives it) on
``STATEWAY_HOST``:``STATEWAY_PORT`` (default 127.0.0.1:8080), and the
inspector page (``frontend/dist``) at ``/inspector/``.

A function's environment is the template's (parameter defaults, or
``STATEWAY_PARAMETER_OVERRIDES="Name=Value ..."``; another template with
``STATEWAY_TEMPLATE``), the caller's environment
winning, and the servers started here filling in the rest. Tokens are
verified as the HTTP API's JWT authorizer would, with ``STATEWAY_JWT_SECRET``
(or ``STATEWAY_JWKS_URL``); when neither is set, a development secret is kept
in ``.local/jwt-secret`` and ``make token`` signs with it. SIGINT or SIGTERM
stops the servers it started.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stateway_edge.authorizer import JWKS_URL, JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, AuthorizerConfig
from stateway_local.gateway import Gateway, make_server
from stateway_local.redis_cluster import RedisClusterServer
from stateway_local.servers import MongoServer, MotoS3Server, RedisServer, create_bucket
from stateway_local.template import TEMPLATE, http_api, load, parse_overrides

ROOT = Path(__file__).resolve().parents[2]

DEFAULT_BUCKET = "stateway-local-snapshots"
PARAMETER_OVERRIDES = "STATEWAY_PARAMETER_OVERRIDES"
SECRET_FILE = ROOT / ".local" / "jwt-secret"


def dev_secret() -> str:
    """The development signing secret, created once per checkout."""
    if not SECRET_FILE.exists():
        SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
        SECRET_FILE.write_text(secrets.token_urlsafe(32))
        SECRET_FILE.chmod(0o600)
    return SECRET_FILE.read_text().strip()


def build_gateway(env: Mapping[str, str], template_path: Path = TEMPLATE) -> Gateway:
    """The template's HTTP API over what ``env`` gives (the caller's environment and the local servers)."""
    api = http_api(
        load(template_path),
        parameters=parse_overrides(env.get(PARAMETER_OVERRIDES)),
        resources={"SnapshotBucket": snapshot_bucket(env)},
        template_dir=template_path.parent,
    )
    # The authorizer's issuer and audience are the template's; the caller's environment wins.
    settings = {JWT_ISSUER: api.issuer or "", JWT_AUDIENCE: ",".join(api.audience)}
    settings.update(
        {name: env[name] for name in (JWT_SECRET, JWKS_URL, JWT_ISSUER, JWT_AUDIENCE) if name in env}
    )
    return Gateway(api, env, AuthorizerConfig.from_env(settings))


def snapshot_bucket(env: Mapping[str, str]) -> str:
    return env.get("STATEWAY_SNAPSHOT_BUCKET") or DEFAULT_BUCKET


def wait_healthy(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/api/health", timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url}/api/health did not answer 200 within {timeout}s")


class LocalServers:
    """The servers the environment does not give, started on loopback."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Any] = []

    def start(self) -> None:
        env = os.environ
        if env.get("REDIS_URL"):
            # A cache of the caller's own is one node unless the caller says it is a cluster
            # (the template's value is for the cache it creates, always a cluster).
            env.setdefault("STATEWAY_REDIS_CLUSTER", "false")
        else:
            # STATEWAY_REDIS_CLUSTER=true with no REDIS_URL: a local 3-master cluster, the
            # shape of ElastiCache Serverless.
            cluster = env.get("STATEWAY_REDIS_CLUSTER", "").strip().lower() in ("true", "1", "yes")
            if cluster:
                redis: Any = self._start(RedisClusterServer(self.workdir / "redis-cluster"))
            else:
                redis = self._start(RedisServer(self.workdir / "redis"))
            env["REDIS_URL"] = redis.url
            # The template's created cache is a cluster; the one started here says what it is.
            env["STATEWAY_REDIS_CLUSTER"] = "true" if cluster else "false"
        if not env.get("MONGODB_URI") and not env.get("STATEWAY_MONGODB_URI_SOURCE"):
            mongo = self._start(MongoServer(self.workdir / "mongo"))
            env["MONGODB_URI"] = mongo.uri
        if not env.get("AWS_ENDPOINT_URL_S3") and not env.get("AWS_ENDPOINT_URL"):
            s3 = self._start(MotoS3Server())
            env["AWS_ENDPOINT_URL_S3"] = s3.endpoint
            # moto accepts any credentials; real ones are never needed or sent.
            env.setdefault("AWS_ACCESS_KEY_ID", "stateway-local")
            env.setdefault("AWS_SECRET_ACCESS_KEY", "stateway-local")
        env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION", "us-east-1"))
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
        create_bucket(endpoint or "", snapshot_bucket(env))
        if not env.get("STATEWAY_JWT_SECRET") and not env.get("STATEWAY_JWKS_URL"):
            env["STATEWAY_JWT_SECRET"] = dev_secret()
        # What the stack's Migration custom resource does on each deploy (no function creates an
        # index): the store's indexes, with the settings the template gives every function
        # (Globals), the caller's environment and the servers started here winning.
        from stateway.config import Settings
        from stateway.migrate import migrate
        from stateway_local.template import Resolver, environment_of

        template = load(Path(env.get("STATEWAY_TEMPLATE") or TEMPLATE))
        resolver = Resolver(template, parse_overrides(env.get(PARAMETER_OVERRIDES)), {})
        given = environment_of(resolver, template["Globals"]["Function"]["Environment"]["Variables"])
        for line in migrate(Settings.from_env({**given, **env})).lines():
            logging.getLogger("stateway_local.run").info("migration: %s", line.strip())

    def _start(self, server: Any) -> Any:
        server.start()
        self.started.append(server)
        return server

    def stop(self) -> None:
        while self.started:
            server = self.started.pop()
            with contextlib.suppress(Exception):
                server.stop()


def main() -> int:
    # One line per record with its level, so that a reader (or a test) can tell a bug
    # (ERROR) from an outage that was served around (WARNING).
    logging.basicConfig(
        level=os.environ.get("STATEWAY_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for noisy in ("werkzeug", "botocore", "urllib3", "pymongo"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    host = os.environ.get("STATEWAY_HOST", "127.0.0.1")
    port = int(os.environ.get("STATEWAY_PORT", "8080"))
    data_dir = os.environ.get("STATEWAY_LOCAL_DATA")
    workdir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="stateway-local-"))
    stack = LocalServers(workdir)
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    server = None
    gateway = None
    try:
        stack.start()
        template = os.environ.get("STATEWAY_TEMPLATE")
        gateway = build_gateway(os.environ, Path(template) if template else TEMPLATE)
        gateway.warm()
        server = make_server(gateway, host, port)
        thread = threading.Thread(target=server.serve_forever, name="gateway", daemon=True)
        thread.start()
        url = f"http://{host}:{port}"
        wait_healthy(url)
        print(f"Stateway API: {url}", flush=True)
        print(f"  inspector:  {url}/inspector/", flush=True)
        print("  a token:    make token USER=alice CLIENT=acme", flush=True)
        print(f"  try:        curl {url}/api/health", flush=True)
        stopping.wait()
        return 0
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        if gateway is not None:
            gateway.stop()
        stack.stop()
        print("Stateway stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
