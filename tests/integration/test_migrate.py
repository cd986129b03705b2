"""The store's indexes are created at deploy time (``stateway.migrate``), never by a request.

Against the real MongoDB-protocol server (or ``MONGODB_URI``): the migration creates exactly
the store's indexes, once; ``python -m stateway.migrate`` does it from the environment a
function gets; the CloudFormation custom resource's handler answers every request by a PUT
of the response document to ``ResponseURL``, here a local HTTP server of the test's own that
records what it is sent; the local stack migrates the store it serves; and a function's
first store command leaves a fresh database without the index.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from stateway import config, migrate, runtime
from stateway.config import Settings
from stateway.tiers.mongo_store import INDEXES, PROJECT_STATES, SESSIONS
from stateway_local.events import LambdaContext, http_api_v1_event
from stateway_local.functions import load_app
from stateway_local.run import LocalServers
from stateway_local.servers import MongoServer, free_port
from stateway_testing.clients import mongo_client

# The options that change what an index accepts or keeps.
INDEX_OPTIONS = ("unique", "sparse", "expireAfterSeconds", "partialFilterExpression")
NAMESPACE_INDEX = ([("client_id", 1), ("user_id", 1), ("updated_at", -1)], {})
STACK_ID = (
    "arn:aws:cloudformation:xx-test-1:123456789012:stack/stateway-test/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
)
LOG_STREAM = "2026/11/24/[$LATEST]0123456789abcdef"


def indexes(db: Any, collection: str) -> dict[str, tuple[list[tuple[str, int]], dict[str, Any]]]:
    """Name -> (keys in order, the options that change what the index accepts or keeps)."""
    return {
        index["name"]: (list(index["key"].items()), {o: index[o] for o in INDEX_OPTIONS if o in index})
        for index in db[collection].list_indexes()
    }


@pytest.fixture
def client(mongodb_uri: str) -> Iterator[Any]:
    c = mongo_client(mongodb_uri)
    yield c
    c.close()


@pytest.fixture
def db_name(client: Any) -> Iterator[str]:
    """A database no test has used; dropped afterwards."""
    name = f"migrate_{uuid.uuid4().hex[:10]}"
    assert name not in client.list_database_names()
    yield name
    client.drop_database(name)


def settings_for(uri: str, db: str, **overrides: Any) -> Settings:
    return Settings.from_env({}, mongodb_uri=uri, mongodb_db=db, mongodb_timeout_ms=1500, **overrides)


@pytest.fixture
def store_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Set the environment a function reads (``set_store(uri, db)``); settings and clients forgotten around."""
    for name in config.ENV_NAMES:
        monkeypatch.delenv(name, raising=False)

    def set_store(uri: str, db: str, timeout_ms: int = 1500) -> None:
        monkeypatch.setenv(config.MONGODB_URI, uri)
        monkeypatch.setenv(config.MONGODB_DB, db)
        monkeypatch.setenv(config.MONGODB_TIMEOUT_MS, str(timeout_ms))
        runtime.clear_caches()

    runtime.clear_caches()
    yield set_store
    runtime.clear_caches()


# --- the migration ----------------------------------------------------------------------


def test_the_migration_creates_exactly_the_stores_indexes(
    mongodb_uri: str, client: Any, db_name: str
) -> None:
    result = migrate.migrate(settings_for(mongodb_uri, db_name))
    assert result.database == db_name
    assert result.created == INDEXES
    assert result.present == ()
    db = client[db_name]
    # The namespace listing's index: not unique (a user has many sessions), no TTL (nothing in
    # the store expires), not sparse or partial (every session is listed).
    assert indexes(db, SESSIONS) == {"_id_": ([("_id", 1)], {}), "namespace_updated": NAMESPACE_INDEX}
    # Project states are read and written by _id only: no index of their own.
    assert set(indexes(db, PROJECT_STATES)) <= {"_id_"}
    assert result.lines() == [f"database {db_name}:", "  sessions: namespace_updated (created)"]
    assert result.data() == {
        "Database": db_name,
        "Indexes": "sessions.namespace_updated",
        "Created": "sessions.namespace_updated",
    }


def test_the_migration_run_twice_changes_nothing(mongodb_uri: str, client: Any, db_name: str) -> None:
    migrate.migrate(settings_for(mongodb_uri, db_name))
    first = (indexes(client[db_name], SESSIONS), indexes(client[db_name], PROJECT_STATES))
    again = migrate.migrate(settings_for(mongodb_uri, db_name))
    assert (again.created, again.present) == ((), INDEXES)
    assert again.lines() == [f"database {db_name}:", "  sessions: namespace_updated (already there)"]
    assert again.data()["Created"] == ""
    assert (indexes(client[db_name], SESSIONS), indexes(client[db_name], PROJECT_STATES)) == first


def test_the_migration_keeps_the_data(mongodb_uri: str, client: Any, db_name: str) -> None:
    # A store that already serves sessions (from before deploy-time migrations) gets its index
    # and keeps every document.
    sessions = client[db_name][SESSIONS]
    sessions.insert_many(
        [{"_id": f"s{n}", "client_id": "c", "user_id": "u", "updated_at": n} for n in range(3)]
    )
    assert migrate.migrate(settings_for(mongodb_uri, db_name)).created == INDEXES
    assert sorted(doc["_id"] for doc in sessions.find()) == ["s0", "s1", "s2"]


# --- by hand: python -m stateway.migrate -------------------------------------------------


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m stateway.migrate`` with this environment's settings replaced by ``env``."""
    base = {name: value for name, value in os.environ.items() if name not in config.ENV_NAMES}
    return subprocess.run(
        [sys.executable, "-m", "stateway.migrate", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_line_migrates_and_prints_what_it_did(
    mongodb_uri: str, client: Any, db_name: str
) -> None:
    env = {config.MONGODB_URI: mongodb_uri, config.MONGODB_DB: db_name}
    done = run_cli(env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"database {db_name}:", "  sessions: namespace_updated (created)"]
    assert indexes(client[db_name], SESSIONS)["namespace_updated"] == NAMESPACE_INDEX
    again = run_cli(env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[1:] == ["  sessions: namespace_updated (already there)"]
    # The URI is never printed.
    assert mongodb_uri not in done.stdout + done.stderr + again.stdout + again.stderr


def test_the_command_line_names_the_missing_setting(db_name: str, client: Any) -> None:
    done = run_cli({config.MONGODB_DB: db_name})
    assert done.returncode == migrate.EXIT_CONFIG
    assert done.stdout == ""
    assert config.MONGODB_URI in done.stderr
    assert config.MONGODB_URI_SOURCE in done.stderr
    assert "Traceback" not in done.stderr
    assert db_name not in client.list_database_names()


def test_the_command_line_says_when_the_store_cannot_be_reached() -> None:
    uri = f"mongodb://127.0.0.1:{free_port()}/?directConnection=true"
    started = time.monotonic()
    done = run_cli({config.MONGODB_URI: uri, config.MONGODB_TIMEOUT_MS: "300"})
    assert time.monotonic() - started < 30
    assert done.returncode == migrate.EXIT_STORE
    assert done.stdout == ""
    assert done.stderr.startswith("stateway.migrate: The durable store could not")
    assert "Nothing else was changed." in done.stderr
    assert "127.0.0.1" not in done.stderr
    assert "Traceback" not in done.stderr


def test_the_command_line_explains_itself() -> None:
    done = run_cli({}, "--help")
    assert done.returncode == 0
    assert "--timeout" in done.stdout
    assert "indexes" in done.stdout


# --- the custom resource -------------------------------------------------------------------


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class ResponseEndpoint:
    """A local HTTP server standing in for CloudFormation's presigned S3 URL: it records each PUT."""

    url: str
    puts: list[Recorded] = field(default_factory=list)
    other_methods: list[str] = field(default_factory=list)


@pytest.fixture
def endpoint() -> Iterator[ResponseEndpoint]:
    recorder = ResponseEndpoint(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            recorder.puts.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            recorder.other_methods.append("POST")
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Context:
    """The parts of Lambda's context object the handler reads."""

    log_stream_name = LOG_STREAM

    def __init__(self, remaining_ms: int = 300_000) -> None:
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def request(kind: str, endpoint: ResponseEndpoint, physical_id: str | None = None) -> dict[str, Any]:
    """A custom-resource request as CloudFormation sends it (AWS's documented fields)."""
    event: dict[str, Any] = {
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:xx-test-1:123456789012:function:stateway-test-MigrationFunction",
        "ResponseURL": f"{endpoint.url}/cloudformation-response/{uuid.uuid4().hex}?X-Amz-Signature=0123abcd",
        "StackId": STACK_ID,
        "RequestId": str(uuid.uuid4()),
        "ResourceType": "Custom::StatewayMigration",
        "LogicalResourceId": "Migration",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:xx-test-1:123456789012:function:stateway-test-MigrationFunction",
            "LayerVersion": "arn:aws:lambda:xx-test-1:123456789012:layer:stateway-test:7",
            "MongoUriSource": "secretsmanager:stateway/test/mongodb-uri",
            "MongoDbName": "stateway",
        },
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if kind == "Update":
        event["OldResourceProperties"] = {**event["ResourceProperties"], "LayerVersion": "…:6"}
    return event


def the_answer(endpoint: ResponseEndpoint, event: dict[str, Any], returned: dict[str, Any]) -> dict[str, Any]:
    """The one response the handler PUT to the request's ResponseURL; checks the fields it copies."""
    assert endpoint.other_methods == []
    (put,) = endpoint.puts
    assert endpoint.url + put.path == event["ResponseURL"]
    # No content type (the presigned URL signs none), and a body CloudFormation accepts.
    assert put.headers.get("content-type", "") == ""
    assert int(put.headers["content-length"]) <= 4096
    body = put.body
    assert body == returned
    assert set(body) == {
        "Status",
        "Reason",
        "PhysicalResourceId",
        "StackId",
        "RequestId",
        "LogicalResourceId",
        "Data",
    }
    for name in ("StackId", "RequestId", "LogicalResourceId"):
        assert body[name] == event[name], name
    assert isinstance(body["PhysicalResourceId"], str) and body["PhysicalResourceId"]
    if "PhysicalResourceId" in event:
        assert body["PhysicalResourceId"] == event["PhysicalResourceId"]
    endpoint.puts.clear()
    return body


def test_create_migrates_and_answers_success(
    endpoint: ResponseEndpoint, store_env: Any, mongodb_uri: str, client: Any, db_name: str
) -> None:
    store_env(mongodb_uri, db_name)
    event = request("Create", endpoint)
    answer = the_answer(endpoint, event, migrate.handler(event, Context()))
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"] == {
        "Database": db_name,
        "Indexes": "sessions.namespace_updated",
        "Created": "sessions.namespace_updated",
    }
    assert indexes(client[db_name], SESSIONS)["namespace_updated"] == NAMESPACE_INDEX
    # An update (new layer code) migrates again: nothing to create, the same resource.
    update = request("Update", endpoint, physical_id=answer["PhysicalResourceId"])
    again = the_answer(endpoint, update, migrate.handler(update, Context()))
    assert again["Status"] == "SUCCESS"
    assert again["PhysicalResourceId"] == answer["PhysicalResourceId"]
    assert again["Data"]["Created"] == ""
    assert again["Data"]["Indexes"] == "sessions.namespace_updated"
    assert mongodb_uri not in json.dumps(answer) + json.dumps(again)


def test_delete_answers_success_and_leaves_the_store_alone(
    endpoint: ResponseEndpoint, store_env: Any, mongodb_uri: str, client: Any, db_name: str
) -> None:
    store_env(mongodb_uri, db_name)
    event = request("Delete", endpoint, physical_id=migrate.PHYSICAL_RESOURCE_ID)
    answer = the_answer(endpoint, event, migrate.handler(event, Context()))
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"] == {}
    assert db_name not in client.list_database_names()
    # Not even a store that cannot be reached holds a delete up (a stack always deletes).
    store_env(f"mongodb://127.0.0.1:{free_port()}/?directConnection=true", db_name, timeout_ms=200)
    event = request("Delete", endpoint, physical_id=migrate.PHYSICAL_RESOURCE_ID)
    started = time.monotonic()
    answer = the_answer(endpoint, event, migrate.handler(event, Context()))
    assert answer["Status"] == "SUCCESS"
    assert time.monotonic() - started < 2


def test_an_unreachable_store_answers_failed_with_a_reason(
    endpoint: ResponseEndpoint, store_env: Any, tmp_path: Path
) -> None:
    server = MongoServer(tmp_path / "mongo")
    server.start()
    uri = server.uri
    server.stop()
    store_env(uri, "stateway", timeout_ms=300)
    event = request("Create", endpoint)
    started = time.monotonic()
    answer = the_answer(endpoint, event, migrate.handler(event, Context()))
    assert time.monotonic() - started < 10
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("The durable store could not")
    assert answer["Reason"].endswith(f"See log stream {LOG_STREAM}.")
    assert answer["Data"] == {}
    # The same resource id a success would have had (a failed create is deleted by that id).
    assert answer["PhysicalResourceId"] == migrate.PHYSICAL_RESOURCE_ID
    for secret in (uri, "127.0.0.1", str(server.port), "mongodb"):
        assert secret not in answer["Reason"], secret


def test_a_missing_setting_answers_failed_naming_it(endpoint: ResponseEndpoint, store_env: Any) -> None:
    event = request("Create", endpoint)
    answer = the_answer(endpoint, event, migrate.handler(event, Context()))
    assert answer["Status"] == "FAILED"
    assert config.MONGODB_URI in answer["Reason"]
    assert config.MONGODB_URI_SOURCE in answer["Reason"]


def test_a_migration_that_outlasts_the_function_is_answered_before_it_ends(
    endpoint: ResponseEndpoint, store_env: Any
) -> None:
    # A server that accepts connections and never answers: the migration waits (here, for its
    # 20 s timeouts); the handler answers FAILED once its time, less the answering margin, is up.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as stalled:
        stalled.bind(("127.0.0.1", 0))
        stalled.listen(16)
        store_env(
            f"mongodb://127.0.0.1:{stalled.getsockname()[1]}/?directConnection=true", "stateway", 20_000
        )
        event = request("Update", endpoint, physical_id=migrate.PHYSICAL_RESOURCE_ID)
        context = Context(remaining_ms=int((migrate.RESPONSE_MARGIN_S + 2) * 1000))
        started = time.monotonic()
        answer = the_answer(endpoint, event, migrate.handler(event, context))
        elapsed = time.monotonic() - started
    assert elapsed < migrate.RESPONSE_MARGIN_S
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("The migration did not finish within 2 s")
    assert answer["PhysicalResourceId"] == migrate.PHYSICAL_RESOURCE_ID


def test_invoked_by_hand_the_handler_migrates_and_returns_its_answer(
    endpoint: ResponseEndpoint, store_env: Any, mongodb_uri: str, client: Any, db_name: str
) -> None:
    # `aws lambda invoke --payload '{"RequestType": "Update"}'`: no CloudFormation waits, so
    # nothing is sent; the answer is the invocation's result.
    store_env(mongodb_uri, db_name)
    answer = migrate.handler({"RequestType": "Update"}, Context())
    assert endpoint.puts == []
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"]["Created"] == "sessions.namespace_updated"
    assert indexes(client[db_name], SESSIONS)["namespace_updated"] == NAMESPACE_INDEX


def test_an_unknown_request_type_answers_failed(endpoint: ResponseEndpoint, store_env: Any) -> None:
    event = request("Rename", endpoint, physical_id=migrate.PHYSICAL_RESOURCE_ID)
    answer = the_answer(endpoint, event, migrate.handler(event, Context()))
    assert answer["Status"] == "FAILED"
    assert "Create, Update or Delete" in answer["Reason"]


# --- the local stack and the functions ------------------------------------------------------


def test_the_local_stack_migrates_the_store_it_serves(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    redis_url: str,
    mongodb_uri: str,
    s3_endpoint: str,
    client: Any,
    db_name: str,
) -> None:
    # Every server is given, so the stack starts none; the database comes from the template's
    # parameter, as the functions get it.
    for name in (*config.ENV_NAMES, "STATEWAY_TEMPLATE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "REDIS_URL": redis_url,
        "STATEWAY_REDIS_CLUSTER": "false",
        "MONGODB_URI": mongodb_uri,
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "STATEWAY_JWT_SECRET": "local-stack-test-secret",
        "STATEWAY_PARAMETER_OVERRIDES": f"MongoDbName={db_name}",
    }.items():
        monkeypatch.setenv(name, value)
    stack = LocalServers(tmp_path)
    try:
        stack.start()
        assert stack.started == []
    finally:
        stack.stop()
    assert indexes(client[db_name], SESSIONS)["namespace_updated"] == NAMESPACE_INDEX


def test_a_functions_first_store_command_creates_no_index(
    monkeypatch: pytest.MonkeyPatch,
    store_env: Any,
    redis_url: str,
    mongodb_uri: str,
    client: Any,
    db_name: str,
    uid: str,
) -> None:
    store_env(mongodb_uri, db_name)
    monkeypatch.setenv(config.REDIS_URL, redis_url)
    runtime.clear_caches()
    claims = {"sub": "alice", "client_id": f"acme{uid}"}
    ids = {"client_id": f"acme{uid}", "user_id": "alice", "app_id": "web", "project_id": "p1"}
    init = load_app("session_init").app
    response = init(http_api_v1_event("POST", "/api/session/init", body=ids, claims=claims), LambdaContext())
    assert response["statusCode"] == 200, response
    # The session is stored in a database no migration has touched, and it has no index but _id's.
    assert client[db_name][SESSIONS].count_documents({}) == 1
    assert set(indexes(client[db_name], SESSIONS)) == {"_id_"}
    # The listing works without it (the index makes it fast, not correct) ...
    listing = load_app("session_list").app
    response = listing(
        http_api_v1_event("GET", "/api/session/list", query=f"client_id=acme{uid}", claims=claims),
        LambdaContext(),
    )
    assert response["statusCode"] == 200
    assert [s["app_id"] for s in json.loads(response["body"])["sessions"]] == ["web"]
    assert set(indexes(client[db_name], SESSIONS)) == {"_id_"}
    # ... and the deploy's migration adds it.
    assert migrate.migrate(settings_for(mongodb_uri, db_name)).created == INDEXES
