"""Each function's app invoked in-process with HTTP API payload 1.0 events, as Lambda invokes it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from stateway import runtime
from stateway_local.events import LambdaContext, http_api_v1_event
from stateway_local.functions import function_names, load_app

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = function_names()
EXPECTED_ROUTES = {
    "health": ("GET", "/api/health"),
    "session_init": ("POST", "/api/session/init"),
    "session_state": ("GET", "/api/session/state"),
    "session_update": ("PATCH", "/api/session/update"),
    "session_end": ("DELETE", "/api/session/end"),
    "session_list": ("GET", "/api/session/list"),
    "project_save": ("PUT", "/api/project-state/{client_id}/{app_id}/{project_id}"),
    "project_load": ("GET", "/api/project-state/{client_id}/{app_id}/{project_id}"),
    "project_snapshots": ("GET", "/api/project-state/{client_id}/{app_id}/{project_id}/snapshots"),
    "project_restore": (
        "POST",
        "/api/project-state/{client_id}/{app_id}/{project_id}/snapshots/{snapshot_id}/restore",
    ),
}


def load(name: str) -> Any:
    return load_app(name).app


@pytest.fixture
def deployed_env(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, mongodb_uri: str, s3_endpoint: str, bucket: str
) -> Iterator[None]:
    for name, value in {
        "REDIS_URL": redis_url,
        "MONGODB_URI": mongodb_uri,
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "STATEWAY_SNAPSHOT_BUCKET": bucket,
        "STATEWAY_CLASSIFIER_CONFIG": '{"model": "m7"}',
    }.items():
        monkeypatch.setenv(name, value)
    runtime.clear_caches()
    yield
    runtime.clear_caches()


def call(name: str, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    response = load(name)(event, LambdaContext())
    body = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], response["headers"], body


@pytest.mark.usefixtures("import_only_settings")
def test_every_operation_has_exactly_its_route() -> None:
    assert sorted(EXPECTED_ROUTES) == FUNCTIONS
    for name, (method, path) in EXPECTED_ROUTES.items():
        routes = load(name).routes
        assert list(routes) == [path]
        assert [m for m in routes[path] if m != "OPTIONS"] == [method]


def test_session_flow_with_authorizer_claims(deployed_env: None, uid: str) -> None:
    claims = {"sub": "alice", "client_id": f"acme{uid}"}
    ids = {"client_id": f"acme{uid}", "user_id": "alice", "app_id": "web", "project_id": "p1"}
    status, headers, body = call(
        "session_init",
        http_api_v1_event("POST", "/api/session/init", body={**ids, "env": {"tz": "UTC"}}, claims=claims),
    )
    assert status == 200 and body["created"] is True
    assert body["state"]["classifier_config"] == {"model": "m7"}
    assert headers["ETag"] == '"1"' and headers["X-Request-Id"]
    sid = body["session_id"]

    status, headers, body = call(
        "session_update",
        http_api_v1_event(
            "PATCH",
            "/api/session/update",
            body={"session_id": sid, "key": "theme", "value": "dark"},
            headers={"If-Match": '"1"'},
            claims=claims,
        ),
    )
    assert (status, body["version"], body["state"]["theme"]) == (200, 2, "dark")

    status, _, body = call(
        "session_state",
        http_api_v1_event("GET", "/api/session/state", query=f"session_id={sid}", claims=claims),
    )
    assert (status, body["source"], body["state"]["theme"]) == (200, "cache", "dark")

    status, _, body = call(
        "session_list",
        http_api_v1_event("GET", "/api/session/list", query=f"client_id=acme{uid}", claims=claims),
    )
    assert [s["session_id"] for s in body["sessions"]] == [sid]

    status, _, body = call(
        "session_end",
        http_api_v1_event("DELETE", "/api/session/end", query=f"session_id={sid}", claims=claims),
    )
    assert (status, body) == (204, None)


def test_cognito_custom_client_id_claim_is_accepted(deployed_env: None, uid: str) -> None:
    claims = {"sub": "bob", "custom:client_id": f"acme{uid}"}
    status, _, body = call(
        "session_list",
        http_api_v1_event("GET", "/api/session/list", query=f"client_id=acme{uid}", claims=claims),
    )
    assert status == 200 and body["namespace"] == f"namespace:acme{uid}:bob"


def test_errors_have_the_contract_body(deployed_env: None) -> None:
    claims = {"sub": "alice", "client_id": "acme"}
    status, headers, body = call(
        "session_state",
        http_api_v1_event(
            "GET", "/api/session/state", query="session_id=session:other:alice:a:p", claims=claims
        ),
    )
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert body["error"]["request_id"] == headers["X-Request-Id"]
    status, _, body = call(
        "session_state",
        http_api_v1_event("GET", "/api/session/state", query="session_id=nope", claims=claims),
    )
    assert status == 400 and body["error"]["code"] == "invalid_id"
    status, _, body = call(
        "session_state", http_api_v1_event("GET", "/api/session/state", query="session_id=nope")
    )
    assert status == 401 and body["error"]["code"] == "unauthorized"


def test_project_flow(deployed_env: None, uid: str) -> None:
    claims = {"sub": "alice", "client_id": f"acme{uid}"}
    route = "/api/project-state/{client_id}/{app_id}/{project_id}"
    params = {"client_id": f"acme{uid}", "app_id": "web", "project_id": "p1"}
    status, _, body = call("project_load", http_api_v1_event("GET", route, path_params=params, claims=claims))
    assert status == 404 and body["error"]["code"] == "project_state_not_found"
    status, headers, body = call(
        "project_save",
        http_api_v1_event("PUT", route, path_params=params, body={"state": {"zoom": 2}}, claims=claims),
    )
    assert status == 200 and body["version"] == 1 and body["snapshot"]["status"] == "ok"
    snapshot_id = body["snapshot"]["id"]
    call(
        "project_save",
        http_api_v1_event("PUT", route, path_params=params, body={"state": {"zoom": 3}}, claims=claims),
    )
    status, _, body = call(
        "project_snapshots",
        http_api_v1_event("GET", route + "/snapshots", path_params=params, query="limit=1", claims=claims),
    )
    assert status == 200 and [s["version"] for s in body["snapshots"]] == [2] and body["next"]
    status, _, body = call(
        "project_restore",
        http_api_v1_event(
            "POST",
            route + "/snapshots/{snapshot_id}/restore",
            path_params={**params, "snapshot_id": snapshot_id},
            claims=claims,
        ),
    )
    assert status == 200 and body["version"] == 3
    status, headers, body = call(
        "project_load", http_api_v1_event("GET", route, path_params=params, claims=claims)
    )
    assert (status, body["state"], body["version"], headers["ETag"]) == (200, {"zoom": 2}, 3, '"3"')


def test_health_needs_no_token(deployed_env: None) -> None:
    status, _, body = call("health", http_api_v1_event("GET", "/api/health"))
    assert (status, body) == (200, {"cache": "ok", "store": "ok", "snapshots": "ok"})


@pytest.mark.parametrize("name", [n for n in EXPECTED_ROUTES if n.startswith("session_")])
def test_session_functions_never_import_boto3(name: str, redis_url: str, mongodb_uri: str) -> None:
    script = f"""
import json, sys
from stateway_local.events import LambdaContext, http_api_v1_event
from stateway_local.functions import load_app
module = load_app({name!r})
event = http_api_v1_event("GET", "/api/session/list", query="client_id=c", claims={{"sub": "u", "client_id": "c"}})
module.app(event, LambdaContext())
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore"))))
"""
    env = {"REDIS_URL": redis_url, "MONGODB_URI": mongodb_uri, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    # Powertools imports botocore's package alone (about 0.5 ms) to add its user agent to clients
    # that are built later; no client machinery (botocore.session, .client, boto3) is loaded.
    assert json.loads(out.stdout.strip().splitlines()[-1]) in ([], ["botocore"])


@pytest.mark.usefixtures("import_only_settings")
def test_openapi_paths_are_exactly_the_functions_routes() -> None:
    document: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "put", "post", "patch", "delete", "head"}
    }
    declared = {
        (method, path)
        for name in FUNCTIONS
        for path, methods in load(name).routes.items()
        for method in methods
        if method != "OPTIONS"
    }
    assert documented == declared


def test_project_load_from_the_cache_never_builds_an_s3_client(
    deployed_env: None, uid: str, redis_url: str, mongodb_uri: str, bucket: str
) -> None:
    claims = {"sub": "alice", "client_id": f"acme{uid}"}
    route = "/api/project-state/{client_id}/{app_id}/{project_id}"
    params = {"client_id": f"acme{uid}", "app_id": "web", "project_id": "p1"}
    status, _, _ = call(
        "project_save",
        http_api_v1_event("PUT", route, path_params=params, body={"state": {"a": 1}}, claims=claims),
    )
    assert status == 200
    script = f"""
import json, sys
from stateway_local.events import LambdaContext, http_api_v1_event
from stateway_local.functions import load_app
module = load_app("project_load")
event = http_api_v1_event("GET", {route!r}, path_params={params!r}, claims={claims!r})
response = module.app(event, LambdaContext())
print(json.dumps([json.loads(response["body"])["source"], sorted(set(m.split(".")[0] for m in sys.modules if m.split(".")[0] in ("boto3", "botocore", "pymongo"))), "botocore.session" in sys.modules]))
"""
    env = {
        "REDIS_URL": redis_url,
        "MONGODB_URI": mongodb_uri,
        "STATEWAY_SNAPSHOT_BUCKET": bucket,
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    # Served by the cache: no S3 client (only botocore's package, which Powertools imports) and no
    # MongoDB driver at all.
    source, imported, client_machinery = json.loads(out.stdout.strip().splitlines()[-1])
    assert (source, client_machinery) == ("cache", False)
    assert imported in ([], ["botocore"])


def test_a_malformed_setting_fails_the_cold_start_naming_it() -> None:
    script = """
from stateway_local.functions import load_app
load_app("session_state")
"""
    env = {"STATEWAY_SESSION_TTL": "two hours", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert out.returncode != 0
    assert "ConfigError: STATEWAY_SESSION_TTL must be a positive integer" in out.stderr


def test_a_srv_uri_whose_lookup_fails_is_503_and_the_cache_still_serves(
    deployed_env: None, monkeypatch: pytest.MonkeyPatch, uid: str
) -> None:
    claims = {"sub": "alice", "client_id": f"acme{uid}"}
    ids = {"client_id": f"acme{uid}", "user_id": "alice", "app_id": "web", "project_id": "p1"}
    status, _, body = call(
        "session_init", http_api_v1_event("POST", "/api/session/init", body=ids, claims=claims)
    )
    assert status == 200
    sid = body["session_id"]
    # The store's name cannot be resolved (a .invalid name never is): the client is built
    # with each request and its DNS lookup fails there.
    monkeypatch.setenv("MONGODB_URI", "mongodb+srv://cluster0.stateway-test.invalid/?retryWrites=false")
    runtime.clear_caches()
    unknown = f"session:acme{uid}:alice:web:never"
    status, _, body = call(
        "session_state",
        http_api_v1_event("GET", "/api/session/state", query=f"session_id={unknown}", claims=claims),
    )
    assert (status, body["error"]["code"]) == (503, "store_unavailable")
    health_status, _, health = call("health", http_api_v1_event("GET", "/api/health"))
    assert (health_status, health["store"], health["cache"]) == (503, "down", "ok")
    # A session the cache holds is still served: the cache read never needed the store.
    status, _, body = call(
        "session_state",
        http_api_v1_event("GET", "/api/session/state", query=f"session_id={sid}", claims=claims),
    )
    assert (status, body["source"]) == (200, "cache")
