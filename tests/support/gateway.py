"""The local gateway (``python -m stateway_local.run``) as a real HTTP server, for the end-to-end suites.

:func:`serve` gives it a MongoDB-protocol server of its own (the suites stop and restart
it), the cache and S3 endpoint it is given, and a signing secret of the test's.
:func:`assert_gateway_refusal` checks what API Gateway itself answers (``{"message": ...}``),
as opposed to the contract's error body that a function answers.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Collection, Iterator, Mapping
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


def start_gateway(
    workdir: Path, env_overrides: Mapping[str, str], *, unset: Collection[str] = ()
) -> tuple[str, subprocess.Popen[str]]:
    """Start the gateway on a free loopback port, logging to ``workdir/gateway.log``; wait for its health.

    Its environment is this process's with ``env_overrides``, and without the names in ``unset``.
    """
    assert not set(unset) & set(env_overrides), "a variable is both set and unset"
    port = free_port()
    env = {**os.environ, **env_overrides, "STATEWAY_HOST": "127.0.0.1", "STATEWAY_PORT": str(port)}
    for name in unset:
        env.pop(name, None)
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
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError((workdir / "gateway.log").read_text()[-3000:])
            try:
                # A health request that finds the warm process busy (the gateway's own start-up
                # check) waits for a new one to start, which takes seconds.
                if requests.get(f"{url}/api/health", timeout=10).status_code == 200:
                    return url, process
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.2)
        raise TimeoutError((workdir / "gateway.log").read_text()[-3000:])
    except BaseException:
        # A gateway that never became ready is stopped with its functions and servers.
        stop_gateway(process)
        raise


def log_records(log_path: Path, offset: int = 0) -> list[dict[str, Any]]:
    """The functions' JSON log records (Powertools' Logger) a gateway logged after ``offset``."""
    if not log_path.exists():
        return []
    records = []
    with open(log_path, errors="replace") as log:
        log.seek(offset)
        for line in log:
            if line.startswith("{") and '"level"' in line:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
    return records


def error_lines(log_path: Path, offset: int = 0) -> list[str]:
    """The ERROR records a gateway logged after ``offset`` (bugs: an outage is a WARNING).

    The gateway's own lines are text (`` ERROR `` in them); the functions' are JSON records
    with ``"level": "ERROR"``.
    """
    if not log_path.exists():
        return []
    found = []
    with open(log_path, errors="replace") as log:
        log.seek(offset)
        for line in log:
            if " ERROR " in line:
                found.append(line.rstrip())
            elif line.startswith("{") and '"ERROR"' in line:
                try:
                    if json.loads(line).get("level") == "ERROR":
                        found.append(line.rstrip())
                except ValueError:
                    continue
    return found


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
    *,
    env: Mapping[str, str] | None = None,
    unset: Collection[str] = (),
) -> Iterator[Gateway]:
    """A gateway over a MongoDB-protocol server of its own, the given cache and the shared S3.

    ``env`` adds to (or replaces) what every test gateway is given; the names in ``unset`` are
    left out of its environment altogether (so that the template's value is the one used).
    """
    secret = secrets.token_urlsafe(24)
    with MongoServer(workdir / "mongo") as mongo:
        given = {
            **cache,
            "MONGODB_URI": mongo.uri,
            "AWS_ENDPOINT_URL_S3": s3_endpoint,
            "STATEWAY_SNAPSHOT_BUCKET": bucket,
            "STATEWAY_JWT_SECRET": secret,
            **GATEWAY_ENV,
            **(env or {}),
        }
        for name in unset:
            given.pop(name, None)
        url, process = start_gateway(workdir, given, unset=unset)
        try:
            yield Gateway(url, secret, mongo, process, workdir / "gateway.log", cluster)
        finally:
            stop_gateway(process)


# What API Gateway itself answers ----------------------------------------------------------

#: The ``www-authenticate`` of API Gateway's JWT authorizer on a 401.
WWW_AUTHENTICATE = re.compile(
    r'Bearer scope="" error="invalid_token" error_description="(?P<description>(?:[^"\\]|\\.)+)"'
)


def assert_gateway_refusal(
    response: requests.Response, status: int, message: str, *, description: str | None = None
) -> None:
    """An answer of API Gateway itself, not of a function: exactly ``{"message": <message>}``.

    It is JSON, carries ``apigw-requestid`` and not the contract's ``X-Request-Id`` (no
    function ran, so there is no contract error body). A 401 is the JWT authorizer's: its
    ``www-authenticate`` says why (exactly ``description``, when given); no other status has one.
    """
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers.get("Content-Type") == "application/json", response.headers
    assert response.content == json.dumps({"message": message}, separators=(",", ":")).encode(), (
        response.text[:300]
    )
    assert response.headers.get("apigw-requestid"), response.headers
    assert "X-Request-Id" not in response.headers, response.headers
    challenge = response.headers.get("www-authenticate")
    if status == 401:
        found = WWW_AUTHENTICATE.fullmatch(challenge or "")
        assert found, challenge
        if description is not None:
            assert found["description"] == description, challenge
    else:
        assert challenge is None, challenge
