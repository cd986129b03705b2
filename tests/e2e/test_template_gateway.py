"""The local gateway serves what ``infra/template.yaml`` declares, as API Gateway would.

* The template is the one truth of what a function gets: a parameter's ``Default`` in a
  copy of the template (``STATEWAY_TEMPLATE``), or a parameter override
  (``STATEWAY_PARAMETER_OVERRIDES``), is what the function runs with.
* Browsers are answered from the HTTP API's ``CorsConfiguration``: preflights by the
  gateway itself, and ``Access-Control-Allow-Origin`` on every answer to an allowed origin.
* A function that cannot start is API Gateway's 500 ``{"message":"Internal Server Error"}``,
  and the gateway's log says which function and why (an ERROR: it is a bug).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from stateway_local.template import parse_overrides
from stateway_testing.clients import mongo_client
from stateway_testing.gateway import Gateway, assert_gateway_refusal, error_lines
from stateway_testing.template import http_routes, load_template, resolve

ORIGIN = "https://app.example.test"
#: What the TypeScript client sends on a write.
CLIENT_HEADERS = {"authorization", "content-type", "if-match"}


def ids_for(uid: str) -> dict[str, str]:
    return {"client_id": f"tpl-{uid}", "user_id": "alice", "app_id": "web", "project_id": "p1"}


def sid(ids: dict[str, str]) -> str:
    return "session:{client_id}:{user_id}:{app_id}:{project_id}".format(**ids)


def cors_configuration(parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The HTTP API's ``CorsConfiguration``, resolved for a deploy with ``parameters``."""
    template = load_template()
    (api,) = (r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::HttpApi")
    resolved: dict[str, Any] = resolve(template, api["Properties"]["CorsConfiguration"], parameters)
    return resolved


def routes() -> list[tuple[str, str, str]]:
    """(function logical id, METHOD, path) of every route the template declares."""
    return http_routes(load_template())


def route_url(gateway: Gateway, path: str, ids: dict[str, str]) -> str:
    return gateway.url + path.format(**ids, snapshot_id="1-20261124T120000000Z")


def navigation_kept(gateway: Gateway, uid: str) -> list[int]:
    """Push four navigation entries; the ones the session keeps (in the answer and in the store)."""
    ids = ids_for(uid)
    api = gateway.session(ids["user_id"], ids["client_id"])
    assert api.post(f"{gateway.url}/api/session/init", json=ids, timeout=10).status_code == 200
    for n in range(4):
        update = {"session_id": sid(ids), "navigation": {"n": n}}
        response = api.patch(f"{gateway.url}/api/session/update", json=update, timeout=10)
        assert response.status_code == 200, response.text
    kept = [entry["n"] for entry in response.json()["state"]["navigation"]]
    client = mongo_client(gateway.mongo.uri)
    try:
        stored = client["stateway"].sessions.find_one({"_id": sid(ids)})["state"]["navigation"]
    finally:
        client.close()
    assert [entry["n"] for entry in stored] == kept
    return kept


def environment_of(gateway: Gateway) -> dict[str, str]:
    """The gateway process's environment, as it was started."""
    raw = Path(f"/proc/{gateway.process.pid}/environ").read_bytes()
    return dict(item.decode().partition("=")[::2] for item in raw.split(b"\0") if item)


# The template is the one truth -----------------------------------------------------------


def test_the_template_default_is_what_the_functions_run_with(gateway: Gateway, uid: str) -> None:
    template = load_template()
    assert int(template["Parameters"]["NavigationLimit"]["Default"]) >= 4
    assert navigation_kept(gateway, uid) == [0, 1, 2, 3]


def test_another_template_is_served_with_its_own_defaults(edited_template_gateway: Gateway, uid: str) -> None:
    started_with = environment_of(edited_template_gateway)
    assert "STATEWAY_NAVIGATION_LIMIT" not in started_with
    assert "STATEWAY_PARAMETER_OVERRIDES" not in started_with
    assert Path(started_with["STATEWAY_TEMPLATE"]).parts[-2:] == ("infra", "template.yaml")
    assert navigation_kept(edited_template_gateway, uid) == [2, 3]


def test_a_parameter_override_is_what_the_functions_run_with(overridden_gateway: Gateway, uid: str) -> None:
    started_with = environment_of(overridden_gateway)
    assert "STATEWAY_NAVIGATION_LIMIT" not in started_with
    assert "STATEWAY_TEMPLATE" not in started_with
    assert navigation_kept(overridden_gateway, uid) == [1, 2, 3]


# CORS, from the template's CorsConfiguration ------------------------------------------------


def preflight(gateway: Gateway, url: str, method: str, origin: str = ORIGIN) -> requests.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": ",".join(sorted(CLIENT_HEADERS)),
    }
    return requests.options(url, headers=headers, timeout=10)


def assert_preflight_allows(response: requests.Response, cors: dict[str, Any], origin: str) -> None:
    assert (response.status_code, response.content) == (204, b"")
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Access-Control-Allow-Methods"] == ",".join(cors["AllowMethods"])
    assert response.headers["Access-Control-Allow-Headers"] == ",".join(cors["AllowHeaders"])
    assert response.headers["Access-Control-Max-Age"] == str(cors["MaxAge"])


def test_a_preflight_is_answered_from_the_templates_cors_configuration(gateway: Gateway, uid: str) -> None:
    cors = cors_configuration()
    assert cors["AllowOrigins"] == ["*"]
    # What the client sends is what the template allows.
    assert {name.lower() for name in cors["AllowHeaders"]} >= CLIENT_HEADERS
    assert {"ETag", "X-Request-Id"} <= set(cors["ExposeHeaders"])
    for _, method, path in routes():
        assert method in cors["AllowMethods"]
        # No token: a preflight is answered before the authorizer, and by no function.
        assert_preflight_allows(preflight(gateway, route_url(gateway, path, ids_for(uid)), method), cors, "*")


def test_answers_carry_the_allowed_origin_when_an_origin_is_sent(gateway: Gateway, uid: str) -> None:
    cors = cors_configuration()
    exposed = ",".join(cors["ExposeHeaders"])
    origin = {"Origin": ORIGIN}
    health = requests.get(f"{gateway.url}/api/health", headers=origin, timeout=10)
    assert health.status_code == 200
    # One value: the function's own CORS headers give way to the HTTP API's.
    assert health.headers["Access-Control-Allow-Origin"] == "*"
    assert health.headers["Access-Control-Expose-Headers"] == exposed
    # Without an Origin there is no CORS header at all, whatever the function would add.
    plain = requests.get(f"{gateway.url}/api/health", timeout=10)
    assert plain.status_code == 200
    assert not [name for name in plain.headers if name.lower().startswith("access-control-")]

    ids = ids_for(uid)
    api = gateway.session(ids["user_id"], ids["client_id"])
    init = api.post(f"{gateway.url}/api/session/init", json=ids, headers=origin, timeout=10)
    assert init.status_code == 200 and init.headers["ETag"] == '"1"'
    assert init.headers["Access-Control-Allow-Origin"] == "*"
    assert init.headers["Access-Control-Expose-Headers"] == exposed

    # API Gateway's own answers carry it too, so that a browser can read them.
    refused = requests.post(f"{gateway.url}/api/session/init", json=ids, headers=origin, timeout=10)
    assert_gateway_refusal(refused, 401, "Unauthorized")
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    missed = api.get(f"{gateway.url}/api/nope", headers=origin, timeout=10)
    assert_gateway_refusal(missed, 404, "Not Found")
    assert missed.headers["Access-Control-Allow-Origin"] == "*"


def test_only_the_configured_origins_are_allowed(overridden_gateway: Gateway, uid: str) -> None:
    overrides = parse_overrides(environment_of(overridden_gateway)["STATEWAY_PARAMETER_OVERRIDES"])
    cors = cors_configuration(overrides)
    allowed = cors["AllowOrigins"]
    assert len(allowed) == 2 and "*" not in allowed
    url = route_url(overridden_gateway, "/api/session/init", ids_for(uid))
    for origin in allowed:
        # An allowed origin is named back, not "*".
        assert_preflight_allows(preflight(overridden_gateway, url, "POST", origin), cors, origin)
        health = requests.get(f"{overridden_gateway.url}/api/health", headers={"Origin": origin}, timeout=10)
        assert health.headers["Access-Control-Allow-Origin"] == origin
    for origin in ("https://evil.example.test", f"{allowed[0]}.evil.example.test", "null"):
        refused = preflight(overridden_gateway, url, "POST", origin)
        assert refused.status_code == 204
        assert not [name for name in refused.headers if name.lower().startswith("access-control-")]
        health = requests.get(f"{overridden_gateway.url}/api/health", headers={"Origin": origin}, timeout=10)
        assert health.status_code == 200
        assert not [name for name in health.headers if name.lower().startswith("access-control-")]


# A function that cannot start ----------------------------------------------------------------


@pytest.mark.logs_errors
def test_a_function_that_cannot_start_is_api_gateways_500_and_an_error_in_the_log(
    broken_gateway: Gateway, uid: str
) -> None:
    ids = ids_for(uid)
    api = broken_gateway.session(ids["user_id"], ids["client_id"])
    url = f"{broken_gateway.url}/api/session/init"
    request_ids = set()
    attempts = 12  # more than a pool holds: a function that cannot start never hangs it
    for _ in range(attempts):
        response = api.post(url, json=ids, headers={"Origin": ORIGIN}, timeout=10)
        # API Gateway's body: nothing of the cause (the setting, the exception) reaches the client.
        assert_gateway_refusal(response, 500, "Internal Server Error")
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        request_ids.add(response.headers["apigw-requestid"])
    assert len(request_ids) == attempts
    # The authorizer still answers first, and the other functions are served.
    assert_gateway_refusal(requests.post(url, json=ids, timeout=10), 401, "Unauthorized")
    assert requests.get(f"{broken_gateway.url}/api/health", timeout=10).status_code == 200
    state = api.get(f"{broken_gateway.url}/api/session/state", params={"session_id": sid(ids)}, timeout=10)
    assert (state.status_code, state.json()["source"]) == (200, "default")

    assert broken_gateway.log_path is not None
    errors = error_lines(broken_gateway.log_path)
    assert errors, "the gateway logged no ERROR"
    for line in errors:
        assert " ERROR stateway.gateway function SessionInitFunction failed to start: ConfigError" in line, (
            line
        )
    # The cause is in the log, with the setting it names.
    log = broken_gateway.log_path.read_text(errors="replace")
    assert "STATEWAY_MAX_STATE_BYTES must be a positive integer, got 'not-a-number'." in log
