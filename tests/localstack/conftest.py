"""The free-plan stack deployed to a real LocalStack, once per test session.

LocalStack's open-source core runs in host mode on a free loopback port
(``stateway_local.localstack``), Lambda through this project's executor plugin
(no Docker here); Redis and the MongoDB-protocol server run on loopback as for
every other suite, and the stack is deployed with ``sam deploy --config-env
localstack``, the way docs/DEPLOY.md tells a user to. S3 is LocalStack's own.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from stateway_local.devtoken import mint
from stateway_local.localstack import LocalStackServer, deploy, environments, rest_api_url
from stateway_local.servers import MongoServer, RedisServer

STAGE = "test"
STACK = "stateway-localstack-test"


@dataclass
class Deployment:
    url: str
    secret: str
    mongo_uri: str
    server: LocalStackServer
    outputs: dict[str, str]
    seconds: dict[str, float]

    def token(self, user: str, client: str, *, secret: str | None = None, ttl: int = 600) -> str:
        return mint(user, client, secret or self.secret, ttl=ttl)

    def session(self, user: str, client: str) -> requests.Session:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {self.token(user, client)}"
        return s

    @property
    def bucket(self) -> str:
        return self.outputs["SnapshotBucketName"]

    def s3(self) -> Any:
        return self.server.client("s3")


@pytest.fixture(scope="session")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    workdir: Path = tmp_path_factory.mktemp("localstack")
    seconds: dict[str, float] = {}
    started = time.monotonic()
    localstack_python, lambda_python = environments()
    seconds["environments"] = time.monotonic() - started
    secret = secrets.token_urlsafe(32)
    with (
        RedisServer(workdir / "redis") as redis,
        MongoServer(workdir / "mongo") as mongo,
        LocalStackServer(
            workdir / "localstack", python=localstack_python, lambda_python=lambda_python
        ) as server,
    ):
        seconds["start"] = time.monotonic() - started - seconds["environments"]
        mark = time.monotonic()
        outputs = deploy(
            server,
            STACK,
            {
                "Stage": STAGE,
                "LogLevel": "INFO",
                "RedisUrl": redis.url,
                "RedisCluster": "false",
                "MongoUri": mongo.uri,
                "JwtSecret": secret,
            },
            log=workdir / "deploy.log",
        )
        seconds["deploy"] = time.monotonic() - mark
        url = rest_api_url(server, outputs["ApiId"], STAGE)
        mark = time.monotonic()
        health = requests.get(f"{url}/api/health", timeout=120)
        seconds["first request"] = time.monotonic() - mark
        assert health.status_code == 200, (health.status_code, health.text[:500])
        print(
            "\nLocalStack stage: "
            + ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())
            + f"\n  API {url}"
        )
        yield Deployment(url, secret, mongo.uri, server, outputs, seconds)
