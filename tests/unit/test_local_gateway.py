"""The local gateway's pure parts (:mod:`stateway_local.gateway`): routing as API Gateway routes,
the payload-1.0 event it hands a function, and the environment a function runs with."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from stateway_local.gateway import event_for, function_environment, match
from stateway_local.template import Function, Route, http_api, load
from stateway_testing.template import TEMPLATE

ROUTES = http_api(load(TEMPLATE)).routes
PROJECT = "/api/project-state/acme/web/p1"


def route_of(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    found = match(ROUTES, method, path)
    return None if found is None else (f"{found[0].method} {found[0].path}", found[1])


# Routing ---------------------------------------------------------------------------------------


def test_a_request_matches_the_route_of_its_method_and_path() -> None:
    assert route_of("GET", "/api/health") == ("GET /api/health", {})
    assert route_of("PATCH", "/api/session/update") == ("PATCH /api/session/update", {})
    ids = {"client_id": "acme", "app_id": "web", "project_id": "p1"}
    assert route_of("PUT", PROJECT) == ("PUT /api/project-state/{client_id}/{app_id}/{project_id}", ids)
    assert route_of("GET", PROJECT) == ("GET /api/project-state/{client_id}/{app_id}/{project_id}", ids)
    assert route_of("GET", f"{PROJECT}/snapshots") == (
        "GET /api/project-state/{client_id}/{app_id}/{project_id}/snapshots",
        ids,
    )
    assert route_of("POST", f"{PROJECT}/snapshots/7-20261124T123456789Z/restore") == (
        "POST /api/project-state/{client_id}/{app_id}/{project_id}/snapshots/{snapshot_id}/restore",
        {**ids, "snapshot_id": "7-20261124T123456789Z"},
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/health"),
        ("HEAD", "/api/health"),
        ("OPTIONS", "/api/session/init"),
        ("TRACE", "/api/session/list"),
        ("GET", "/api/session/update"),
        ("DELETE", PROJECT),
        ("get", "/api/health"),
        ("GET", "/api/nope"),
        ("GET", "/API/health"),
        ("GET", "/api"),
        ("GET", "/"),
        ("PUT", f"{PROJECT}/extra"),
        ("PUT", "/api/project-state/acme/web"),
        ("PUT", "/api/project-state/acme//p1"),
        ("GET", f"{PROJECT}/snapshot"),
        ("POST", f"{PROJECT}/snapshots//restore"),
    ],
)
def test_no_route_for_another_method_or_path(method: str, path: str) -> None:
    """An HTTP API has no 405: a method its route does not declare matches nothing."""
    assert match(ROUTES, method, path) is None


def test_path_parameters_are_url_decoded() -> None:
    found = route_of("PUT", "/api/project-state/ac%6De/web%2Fp1/p%40x%20y")
    assert found is not None
    assert found[1] == {"client_id": "acme", "app_id": "web/p1", "project_id": "p@x y"}


# The event -------------------------------------------------------------------------------------


def project_route() -> Route:
    found = match(ROUTES, "PUT", PROJECT)
    assert found is not None
    return found[0]


def event(
    *,
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    claims: dict[str, str] | None = None,
    path: str = PROJECT,
) -> dict[str, object]:
    found = match(ROUTES, "PUT", path)
    assert found is not None
    route, params = found
    return event_for(route, "PUT", path, query, headers or [], body, params, claims, "req-1")


def test_the_event_is_payload_format_1_0() -> None:
    e = event(headers=[("User-Agent", "tests/1")])
    assert e["version"] == "1.0"
    assert (e["resource"], e["path"], e["httpMethod"]) == (project_route().path, PROJECT, "PUT")
    assert e["pathParameters"] == {"client_id": "acme", "app_id": "web", "project_id": "p1"}
    assert e["stageVariables"] is None
    context = e["requestContext"]
    assert isinstance(context, dict)
    assert (context["requestId"], context["stage"], context["httpMethod"]) == ("req-1", "$default", "PUT")
    assert (context["path"], context["resourcePath"]) == (PROJECT, project_route().path)
    assert context["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "tests/1"}
    assert isinstance(context["requestTimeEpoch"], int)


def test_the_path_is_raw_and_the_parameters_decoded() -> None:
    raw = "/api/project-state/acme/web/p%40x"
    e = event(path=raw)
    assert e["path"] == raw
    assert e["pathParameters"] == {"client_id": "acme", "app_id": "web", "project_id": "p@x"}


def test_a_route_without_parameters_has_none() -> None:
    found = match(ROUTES, "GET", "/api/health")
    assert found is not None
    e = event_for(found[0], "GET", "/api/health", "", [], b"", found[1], None, "r")
    assert e["pathParameters"] is None


def test_query_parameters_keep_every_value() -> None:
    e = event(query="a=1&b=x%20y&a=2&empty=&flag")
    assert e["multiValueQueryStringParameters"] == {
        "a": ["1", "2"],
        "b": ["x y"],
        "empty": [""],
        "flag": [""],
    }
    # The single-valued map holds the last value, as API Gateway's format 1.0 does.
    assert e["queryStringParameters"] == {"a": "2", "b": "x y", "empty": "", "flag": ""}
    none = event()
    assert (none["queryStringParameters"], none["multiValueQueryStringParameters"]) == (None, None)


def test_header_names_are_lower_case_and_every_value_is_kept() -> None:
    e = event(
        headers=[("Content-Type", "application/json"), ("X-Dup", "a"), ("x-dup", "b"), ("If-Match", '"3"')]
    )
    assert e["multiValueHeaders"] == {
        "content-type": ["application/json"],
        "x-dup": ["a", "b"],
        "if-match": ['"3"'],
    }
    headers = e["headers"]
    assert isinstance(headers, dict)
    assert (headers["content-type"], headers["if-match"]) == ("application/json", '"3"')
    assert set(headers) == {"content-type", "x-dup", "if-match"}


def test_a_utf8_body_is_text_and_any_other_is_base64() -> None:
    text = event(body='{"state": {"k": "é😀"}}'.encode())
    assert (text["body"], text["isBase64Encoded"]) == ('{"state": {"k": "é😀"}}', False)
    raw = b"\xff\xfe{\x00}"
    binary = event(body=raw)
    assert binary["isBase64Encoded"] is True
    assert isinstance(binary["body"], str) and base64.b64decode(binary["body"]) == raw
    empty = event()
    assert (empty["body"], empty["isBase64Encoded"]) == (None, False)


def test_the_authorizers_claims_are_in_the_request_context() -> None:
    claims = {"sub": "alice", "client_id": "acme", "exp": "1700000000"}
    context = event(claims=claims)["requestContext"]
    assert isinstance(context, dict)
    assert context["authorizer"] == {"claims": claims, "scopes": None}
    # Nothing the caller sends can stand in for them.
    forged = event(headers=[("Authorization", "Bearer x"), ("X-Claims", "sub=mallory")])["requestContext"]
    assert isinstance(forged, dict)
    assert "authorizer" not in forged


# The function's environment --------------------------------------------------------------------


def a_function(environment: dict[str, str]) -> Function:
    return Function("ProjectSaveFunction", Path("/code"), "app.app", environment, 15.0, 512)


def test_the_caller_wins_over_the_template_and_the_authorizers_settings_stay_out() -> None:
    template = {"STATEWAY_NAVIGATION_LIMIT": "100", "STATEWAY_REDIS_CLUSTER": "true", "KEEP": "template"}
    caller = {
        "STATEWAY_NAVIGATION_LIMIT": "3",
        "STATEWAY_REDIS_CLUSTER": "false",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "STATEWAY_JWT_SECRET": "secret",
        "STATEWAY_JWKS_URL": "https://issuer.example/jwks.json",
        "PATH": "/usr/bin",
    }
    env = function_environment(a_function(template), caller)
    assert env["STATEWAY_NAVIGATION_LIMIT"] == "3"
    assert env["STATEWAY_REDIS_CLUSTER"] == "false"
    assert (env["REDIS_URL"], env["PATH"], env["KEEP"]) == ("redis://127.0.0.1:1/0", "/usr/bin", "template")
    assert "STATEWAY_JWT_SECRET" not in env
    assert "STATEWAY_JWKS_URL" not in env


def test_the_function_knows_its_name_memory_and_timeout() -> None:
    env = function_environment(a_function({}), {"AWS_LAMBDA_FUNCTION_NAME": "spoofed"})
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "ProjectSaveFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["STATEWAY_LOCAL_TIMEOUT"] == "15.0"


def test_a_secret_in_the_template_never_reaches_a_function() -> None:
    env = function_environment(a_function({"STATEWAY_JWT_SECRET": "from-template"}), {})
    assert "STATEWAY_JWT_SECRET" not in env
