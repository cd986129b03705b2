"""Hostile input and hostile callers over HTTP: a clear 4xx, and nothing changed.

A function refuses with the contract's error body; what API Gateway refuses before any
function runs (a token its JWT authorizer does not accept, a route no function has) gets
API Gateway's own ``{"message": ...}`` body instead.

A victim (a user with a session and a project with snapshots) is set up
first; after each attack the test reads the store (pymongo), the cache (redis)
and the bucket (boto3) directly and asserts that nothing of the victim's, and
nothing new, is there.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import time
import unicodedata
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from stateway_local.devtoken import mint
from stateway_testing.clients import mongo_client
from stateway_testing.gateway import assert_gateway_refusal
from stateway_testing.strategies import hostile_strings, plain_text, unicode_numbers
from stateway_testing.template import http_routes, load_template

MARKER = "victim-secret-7f3a"
BAD_IDS = [
    "a:b",
    "a/b",
    "$a",
    "a$b",
    ".a",
    ".",
    "a\x00b",
    "é",
    "日本",
    "a b",
    "",
    "x" * 10_000,
]
BAD_KEYS = ["a:b", "a/b", "$set", "a$b", "a.b", ".a", "a\x00b", "é", "日本", "1a", "-a", "", "x" * 10_000]
BAD_DOCUMENT_KEYS = ["$where", "$set", "a.b", ".", "a\x00b"]


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def assert_error(response: requests.Response, status: int | set[int], codes: str | set[str]) -> None:
    """The contract's error body, with the request id of the response, and nothing of the victim's."""
    statuses = {status} if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}
    assert body["error"]["code"] in ({codes} if isinstance(codes, str) else codes), body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"]["request_id"] == response.headers["X-Request-Id"]
    assert MARKER not in response.text
    assert "Traceback" not in response.text


def assert_route_miss(response: requests.Response) -> None:
    """No function has this route and method: API Gateway's 404 (an HTTP API has no 405)."""
    assert_gateway_refusal(response, 404, "Not Found")


@pytest.fixture(scope="module")
def store(gateway: Any) -> Iterator[Any]:
    client = mongo_client(gateway.mongo.uri)
    yield client["stateway"]
    client.close()


@pytest.fixture(scope="module")
def cache(redis: Any) -> Any:
    return redis


@dataclass
class Victim:
    gateway: Any
    store: Any
    cache: Any
    s3: Any
    bucket: str
    client_id: str
    user_id: str = "alice"
    app_id: str = "web"
    project_id: str = "p1"
    snapshot_id: str = ""
    before: dict[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "user_id": self.user_id,
            "app_id": self.app_id,
            "project_id": self.project_id,
        }

    @property
    def sid(self) -> str:
        return f"session:{self.client_id}:{self.user_id}:{self.app_id}:{self.project_id}"

    @property
    def project_url(self) -> str:
        return f"{self.gateway.url}/api/project-state/{self.client_id}/{self.app_id}/{self.project_id}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.gateway.token(self.user_id, self.client_id)}"}

    @property
    def api(self) -> requests.Session:
        return self.gateway.session(self.user_id, self.client_id)

    def everything(self) -> dict[str, Any]:
        """What every tier holds: all documents, the victim's cache entries, the victim's snapshots."""
        prefix = f"project-state/{self.client_id}/"
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
        return {
            "sessions": sorted(self.store.sessions.find({}), key=lambda d: d["_id"]),
            "projects": sorted(self.store.project_states.find({}), key=lambda d: d["_id"]),
            "cached_session": self.cache.get(self.sid),
            "cached_project": self.cache.get(
                f"project_state:{self.client_id}:{self.app_id}:{self.project_id}"
            ),
            "namespace": self.cache.smembers(f"namespace:{self.client_id}:{self.user_id}"),
            "snapshots": sorted((item["Key"], item["Size"]) for item in listed),
        }

    def assert_unchanged(self) -> None:
        """Nothing changed in any tier since the victim was set up."""
        assert self.everything() == self.before


@pytest.fixture
def victim(gateway: Any, store: Any, cache: Any, s3: Any, bucket: str, uid: str) -> Victim:
    v = Victim(gateway, store, cache, s3, bucket, f"victim-{uid}")
    api = v.api
    assert api.post(f"{gateway.url}/api/session/init", json=v.ids).status_code == 200
    update = {"session_id": v.sid, "key": "secret", "value": MARKER}
    assert api.patch(f"{gateway.url}/api/session/update", json=update).status_code == 200
    assert api.put(v.project_url, json={"state": {"secret": MARKER, "n": 1}}).status_code == 200
    saved = api.put(v.project_url, json={"state": {"secret": MARKER, "n": 2}})
    assert saved.json()["snapshot"]["status"] == "ok"
    v.snapshot_id = saved.json()["snapshot"]["id"]
    before = v.everything()
    assert before["cached_session"] is not None and before["cached_project"] is not None
    assert len(before["snapshots"]) == 2
    v.before = before
    return v


def every_route(v: Victim) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, url, kwargs) for every route but health, aimed at the victim's data."""
    url = v.gateway.url
    return [
        ("POST", f"{url}/api/session/init", {"json": v.ids}),
        ("GET", f"{url}/api/session/state", {"params": {"session_id": v.sid}}),
        (
            "PATCH",
            f"{url}/api/session/update",
            {"json": {"session_id": v.sid, "key": "secret", "value": "x"}},
        ),
        ("PATCH", f"{url}/api/session/update", {"json": {"session_id": v.sid, "navigation": {"p": "/x"}}}),
        ("DELETE", f"{url}/api/session/end", {"params": {"session_id": v.sid}}),
        ("DELETE", f"{url}/api/session/end", {"params": {"client_id": v.client_id, "all": "true"}}),
        ("GET", f"{url}/api/session/list", {"params": {"client_id": v.client_id}}),
        ("PUT", v.project_url, {"json": {"state": {"secret": "overwritten"}}}),
        ("GET", v.project_url, {}),
        ("GET", f"{v.project_url}/snapshots", {}),
        ("POST", f"{v.project_url}/snapshots/{v.snapshot_id}/restore", {}),
    ]


# Credentials ---------------------------------------------------------------------------


def bad_tokens(v: Victim) -> dict[str, str | None]:
    """Tokens API Gateway's JWT authorizer refuses: no function runs."""
    user, client, secret = v.user_id, v.client_id, v.gateway.secret
    unsigned = mint(user, client, None, ttl=600, algorithm="none")
    return {
        "none": None,
        "empty": "",
        "garbage": "not-a-jwt",
        "expired": v.gateway.token(user, client, ttl=-60),
        "other key": v.gateway.token(user, client, secret="another-secret-long-enough-for-hs256-x"),
        "alg none": unsigned,
        "alg none, signed": unsigned + "c2lnbmF0dXJl",
        "alg HS512": hs512(user, client, secret),
        "no exp": mint(user, client, secret, omit=("exp",)),
        "not yet valid": mint(user, client, secret, ttl=600, claims={"nbf": int(time.time()) + 600}),
        "tampered": tamper(v.gateway.token("mallory", client), user),
    }


#: Why the authorizer refused (its ``www-authenticate`` error_description), where it is one reason.
REFUSAL_REASONS = {
    "none": "the token is missing",
    "empty": "the token is missing",
    "expired": "the token has expired",
}


def tokens_without_an_identity(v: Victim) -> dict[str, str]:
    """Validly signed tokens without the claims a caller is (the authorizer lets them through;
    the function refuses them, as in AWS)."""
    user, client, secret = v.user_id, v.client_id, v.gateway.secret
    return {
        "no client_id": mint(user, client, secret, ttl=600, omit=("client_id",)),
        "no sub": mint(user, client, secret, ttl=600, omit=("sub",)),
        "bad sub": mint("a:b", client, secret, ttl=600),
        "bad client_id": mint(user, f"{client}:x", secret, ttl=600),
    }


def hs512(user: str, client: str, secret: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the test secret is short for HS512; irrelevant here
        return mint(user, client, secret, ttl=600, algorithm="HS512")


def tamper(token: str, user: str) -> str:
    """Change the ``sub`` of a validly signed token, keeping its signature."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{b64({**claims, 'sub': user})}.{signature}"


def test_bad_credentials_are_401_on_every_route_and_change_nothing(victim: Victim) -> None:
    for name, token in bad_tokens(victim).items():
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        for method, url, kwargs in every_route(victim):
            response = requests.request(method, url, headers=headers, timeout=10, **kwargs)
            assert_gateway_refusal(response, 401, "Unauthorized", description=REFUSAL_REASONS.get(name))
    for header in ("Basic YWxpY2U6cHc=", "Bearer", "bearer  ", "Token abc", "Bearer Bearer x"):
        response = requests.get(victim.project_url, headers={"Authorization": header}, timeout=10)
        assert_gateway_refusal(response, 401, "Unauthorized")
    for name, token in tokens_without_an_identity(victim).items():
        for method, url, kwargs in every_route(victim):
            response = requests.request(
                method, url, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs
            )
            assert_error(response, 401, "unauthorized")
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), name
    victim.assert_unchanged()


def test_a_token_without_the_bearer_prefix_is_read_as_api_gateway_reads_it(victim: Victim) -> None:
    """The authorizer takes the token with or without ``Bearer``: another client's is still 403."""
    bare = victim.gateway.token(victim.user_id, "other-client")
    response = requests.get(victim.project_url, headers={"Authorization": bare}, timeout=10)
    assert_error(response, 403, "forbidden")
    own = victim.gateway.token(victim.user_id, victim.client_id)
    loaded = requests.get(victim.project_url, headers={"Authorization": own}, timeout=10)
    assert loaded.status_code == 200 and loaded.json()["state"]["secret"] == MARKER
    victim.assert_unchanged()


def test_another_users_or_clients_token_is_403_and_changes_nothing(victim: Victim) -> None:
    mallory = victim.gateway.session("mallory", victim.client_id)
    outsider = victim.gateway.session(victim.user_id, "other-client")
    for method, url, kwargs in every_route(victim):
        if "project-state" in url or "all" in kwargs.get("params", {}) or url.endswith("/list"):
            # Project state belongs to the client, and list / end-all act on the caller's own
            # sessions: only another client is refused.
            callers = [outsider]
        else:
            callers = [mallory, outsider]
        for caller in callers:
            assert_error(caller.request(method, url, timeout=10, **kwargs), 403, "forbidden")
    # Another user of the same client acting on "all" reaches only their own sessions.
    listed = mallory.get(f"{victim.gateway.url}/api/session/list", params={"client_id": victim.client_id})
    assert listed.status_code == 200 and listed.json()["sessions"] == []
    ended = mallory.delete(
        f"{victim.gateway.url}/api/session/end", params={"client_id": victim.client_id, "all": "true"}
    )
    assert ended.status_code == 204
    # A body naming the victim, from a caller whose token names someone else.
    forged = {**victim.ids, "user_id": victim.user_id}
    assert_error(mallory.post(f"{victim.gateway.url}/api/session/init", json=forged), 403, "forbidden")
    victim.assert_unchanged()


# Ids and keys ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda s: repr(s)[:24])
def test_bad_ids_are_400_everywhere(victim: Victim, bad: str) -> None:
    api, url = victim.api, victim.gateway.url
    for name in ("client_id", "user_id", "app_id", "project_id"):
        response = api.post(f"{url}/api/session/init", json={**victim.ids, name: bad})
        assert_error(response, 400, "invalid_id")
    for sid in (
        f"session:{victim.client_id}:{victim.user_id}:{bad}:p1",
        f"session:{victim.client_id}:{victim.user_id}:web:{bad}",
        f"{victim.sid}:{bad}",
    ):
        assert_error(api.get(f"{url}/api/session/state", params={"session_id": sid}), 400, "invalid_id")
        assert_error(api.delete(f"{url}/api/session/end", params={"session_id": sid}), 400, "invalid_id")
        update = {"session_id": sid, "key": "k", "value": 1}
        assert_error(api.patch(f"{url}/api/session/update", json=update), 400, "invalid_id")
    listed = api.get(f"{url}/api/session/list", params={"client_id": bad})
    # An empty query value may arrive as no value at all.
    assert_error(listed, 400, "invalid_id" if bad else {"invalid_id", "invalid_request"})
    if bad not in ("", "."):
        # (An empty or "." path segment is removed before it reaches any server.)
        for project_url in (
            f"{url}/api/project-state/{victim.client_id}/{quote(bad, safe='')}/p1",
            f"{url}/api/project-state/{victim.client_id}/web/{quote(bad, safe='')}",
        ):
            assert_error(api.put(project_url, json={"state": {"a": 1}}), 400, "invalid_id")
            assert_error(api.get(project_url), 400, "invalid_id")
            assert_error(api.get(f"{project_url}/snapshots"), 400, "invalid_id")
    victim.assert_unchanged()


def test_ids_with_an_encoded_slash_never_reach_another_project(victim: Victim) -> None:
    api, url = victim.api, victim.gateway.url
    for path in (
        f"/api/project-state/{victim.client_id}/web%2Fp1/p1",
        f"/api/project-state/{victim.client_id}/web/p1%2F..%2Fp2",
        f"/api/project-state/{victim.client_id}%2Fweb/p1/p1",
    ):
        response = api.put(f"{url}{path}", json={"state": {"secret": "overwritten"}})
        assert_error(response, 400, "invalid_id")
    extra = requests.put(
        f"{victim.project_url}/extra",
        json={"state": {"secret": "overwritten"}},
        headers=victim.auth,
        timeout=10,
    )
    assert_route_miss(extra)
    victim.assert_unchanged()


def test_a_body_the_gateway_did_not_read_never_becomes_a_request(gateway: Any) -> None:
    host, port = gateway.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        body = b'{"state": {"a": 1}}'
        conn.request("PUT", "/api/nope", body=body, headers={"Content-Type": "application/json"})
        first = conn.getresponse()
        first.read()
        assert first.status == 404
        if (first.getheader("Connection") or "").lower() == "close":
            conn.close()
        conn.request("GET", "/api/health")
        second = conn.getresponse()
        assert second.status == 200, second.read()[:200]
        assert set(json.loads(second.read())) == {"cache", "store", "snapshots"}
    finally:
        conn.close()


ROUTE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def undeclared_methods(v: Victim) -> list[tuple[str, str]]:
    """(method, url) of every method that the template declares for none of its paths, on each path."""
    declared: dict[str, set[str]] = {}
    for _, method, path in http_routes(load_template()):
        declared.setdefault(path, set()).add(method)
    ids = {**v.ids, "snapshot_id": v.snapshot_id}
    return [
        (method, v.gateway.url + path.format(**ids))
        for path, methods in declared.items()
        for method in ROUTE_METHODS
        if method not in methods
    ]


def test_route_misses_are_api_gateways_404_with_its_request_id(victim: Victim) -> None:
    seen: set[str] = set()
    misses = [("GET", f"{victim.gateway.url}/api/nope"), *undeclared_methods(victim)]
    for method, url in misses:
        # The caller's own token: no function has the route, so none is reached.
        response = victim.api.request(method, url, json={"state": {"secret": "overwritten"}}, timeout=10)
        assert_route_miss(response)
        seen.add(response.headers["apigw-requestid"])
    assert len(seen) == len(misses), "each answer has a request id of its own"
    victim.assert_unchanged()


@pytest.mark.parametrize("bad", BAD_KEYS, ids=lambda s: repr(s)[:24])
def test_bad_state_keys_are_400(victim: Victim, bad: str) -> None:
    update = {"session_id": victim.sid, "key": bad, "value": 1}
    response = victim.api.patch(f"{victim.gateway.url}/api/session/update", json=update)
    assert_error(response, 400, "invalid_key")
    victim.assert_unchanged()


@pytest.mark.parametrize("bad", BAD_DOCUMENT_KEYS)
def test_operator_or_path_keys_inside_documents_are_400(victim: Victim, bad: str) -> None:
    api, url = victim.api, victim.gateway.url
    for document in ({bad: 1}, {"ok": [{"deeper": {bad: 1}}]}):
        update = {"session_id": victim.sid, "key": "secret", "value": document}
        assert_error(api.patch(f"{url}/api/session/update", json=update), 400, "invalid_state")
        nav = {"session_id": victim.sid, "navigation": document}
        assert_error(api.patch(f"{url}/api/session/update", json=nav), 400, "invalid_state")
        assert_error(api.put(victim.project_url, json={"state": document}), 400, "invalid_state")
        new_session = {**victim.ids, "project_id": "other", "env": document}
        assert_error(api.post(f"{url}/api/session/init", json=new_session), 400, "invalid_state")
    victim.assert_unchanged()


def test_odd_but_valid_values_round_trip_exactly(gateway: Any, store: Any, cache: Any, uid: str) -> None:
    """Unicode, ':', '/', NUL inside strings, 10 KB strings and the int64 bounds are data, kept as sent."""
    ids = {"client_id": f"odd-{uid}", "user_id": "alice", "app_id": "web", "project_id": "p1"}
    sid = "session:{client_id}:{user_id}:{app_id}:{project_id}".format(**ids)
    api = gateway.session("alice", ids["client_id"])
    value = {
        "é日本😀": "ünïcødé 😀",
        "a:b/c": "x:y/z",
        "nul": "a\x00b",
        "long": "x" * 10_000,
        "x" * 1_000: "a key of 1000 characters",
        "ints": [2**63 - 1, -(2**63), 0, -1],
        "floats": [1.5e18, -2.5e-308, 0.1, 1e-300],
        "empty": [{}, [], ""],
    }
    api.post(f"{gateway.url}/api/session/init", json=ids)
    updated = api.patch(
        f"{gateway.url}/api/session/update", json={"session_id": sid, "key": "odd", "value": value}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["state"]["odd"] == value
    from_cache = api.get(f"{gateway.url}/api/session/state", params={"session_id": sid}).json()
    assert (from_cache["source"], from_cache["state"]["odd"]) == ("cache", value)
    cache.delete(sid)
    from_store = api.get(f"{gateway.url}/api/session/state", params={"session_id": sid}).json()
    assert (from_store["source"], from_store["state"]["odd"]) == ("store", value)
    assert store.sessions.find_one({"_id": sid})["state"]["odd"] == value

    project_url = f"{gateway.url}/api/project-state/{ids['client_id']}/web/p1"
    saved = api.put(project_url, json={"state": value})
    assert saved.status_code == 200 and saved.json()["snapshot"]["status"] == "ok"
    assert api.get(project_url).json()["state"] == value


# Documents -----------------------------------------------------------------------------


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [100, 1_000])
def test_deeply_nested_documents_are_400(victim: Victim, depth: int) -> None:
    url, headers = victim.gateway.url, {"Content-Type": "application/json"}
    api = victim.api
    bodies = [
        (
            "PATCH",
            f"{url}/api/session/update",
            f'{{"session_id": "{victim.sid}", "key": "secret", "value": {nested(depth)}}}',
        ),
        (
            "PATCH",
            f"{url}/api/session/update",
            f'{{"session_id": "{victim.sid}", "navigation": {nested(depth)}}}',
        ),
        ("PUT", victim.project_url, f'{{"state": {nested(depth)}}}'),
        (
            "POST",
            f"{url}/api/session/init",
            json.dumps({**victim.ids, "project_id": "deep"})[:-1] + f', "env": {nested(depth)}}}',
        ),
    ]
    for method, target, body in bodies:
        response = api.request(method, target, data=body.encode(), headers=headers, timeout=30)
        assert_error(response, {400, 413}, {"invalid_state", "invalid_json", "state_too_large"})
    victim.assert_unchanged()


def test_bodies_over_the_size_limit_are_413(victim: Victim) -> None:
    # The gateway runs with STATEWAY_MAX_STATE_BYTES=65536.
    api, url = victim.api, victim.gateway.url
    big = "x" * 70_000
    update = {"session_id": victim.sid, "key": "secret", "value": big}
    assert_error(api.patch(f"{url}/api/session/update", json=update), 413, "state_too_large")
    nav = {"session_id": victim.sid, "navigation": {"path": big}}
    assert_error(api.patch(f"{url}/api/session/update", json=nav), 413, "state_too_large")
    assert_error(api.put(victim.project_url, json={"state": {"blob": big}}), 413, "state_too_large")
    init = {**victim.ids, "project_id": "big", "env": {"blob": big}}
    assert_error(api.post(f"{url}/api/session/init", json=init), 413, "state_too_large")
    # Far over the limit: refused before it is parsed.
    huge = b'{"state": {"blob": "' + b"y" * 4_000_000 + b'"}}'
    response = api.put(victim.project_url, data=huge, headers={"Content-Type": "application/json"})
    assert_error(response, 413, "state_too_large")
    victim.assert_unchanged()


@pytest.mark.parametrize(
    "number",
    [
        "9223372036854775808",
        "-9223372036854775809",
        "1" + "0" * 30,
        "1e300",
        "-9.3e18",
        "1e400",
        "-1e400",
    ],
)
def test_numbers_bson_cannot_hold_are_400(victim: Victim, number: str) -> None:
    api, url, headers = victim.api, victim.gateway.url, {"Content-Type": "application/json"}
    for method, target, body in (
        (
            "PATCH",
            f"{url}/api/session/update",
            f'{{"session_id": "{victim.sid}", "key": "secret", "value": {number}}}',
        ),
        (
            "PATCH",
            f"{url}/api/session/update",
            f'{{"session_id": "{victim.sid}", "navigation": {{"n": [{number}]}}}}',
        ),
        ("PUT", victim.project_url, f'{{"state": {{"n": {number}}}}}'),
        (
            "POST",
            f"{url}/api/session/init",
            json.dumps({**victim.ids, "project_id": "num"})[:-1] + f', "env": {{"n": {number}}}}}',
        ),
    ):
        response = api.request(method, target, data=body.encode(), headers=headers, timeout=10)
        assert_error(response, 400, {"invalid_state", "invalid_json"})
    victim.assert_unchanged()


@pytest.mark.parametrize(
    "template",
    [
        '{{"session_id": "{sid}", "key": "secret", "key": "other", "value": 1}}',
        '{{"session_id": "{sid}", "key": "secret", "value": {{"a": 1, "a": 2}}}}',
        '{{"session_id": "{sid}", "navigation": {{"p": 1, "p": 2}}}}',
        '{{"session_id": "other", "session_id": "{sid}", "key": "secret", "value": 1}}',
    ],
)
def test_duplicate_json_keys_are_400(victim: Victim, template: str) -> None:
    body = template.format(sid=victim.sid).encode()
    response = victim.api.patch(
        f"{victim.gateway.url}/api/session/update", data=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "invalid_json")
    project_body = b'{"state": {"n": 1, "n": 2}}'
    response = victim.api.put(
        victim.project_url, data=project_body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "invalid_json")
    victim.assert_unchanged()


# Hostile text where a number or a storable string is expected -----------------------------
#
# Each class below once answered 500 or was silently read as something else. The strategies
# generate them; every example carries at least one hostile character, so any example finds
# the bug when it is there.

HOSTILE_EXAMPLES = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.generate],
)
# The zero of each decimal-digit block: digit d of a block is chr(zero + d).
digit_zeros = st.characters(categories=["Nd"], exclude_characters="0123456789").map(
    lambda c: ord(c) - unicodedata.digit(c)
)
# Integers in a number's place that are far over any bound, with or without leading zeros.
oversized_numbers = st.one_of(
    st.builds(str.__add__, st.sampled_from("123456789"), st.text("0123456789", min_size=18, max_size=6000)),
    st.builds(
        lambda n, z: "0" * z + n, st.integers(min_value=1, max_value=100).map(str), st.integers(19, 6000)
    ),
)
safe_keys = st.text(alphabet="abcxyz_é日", min_size=1, max_size=4)
safe_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | plain_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(safe_keys, children, max_size=3),
    max_leaves=6,
)


def _with(rest: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {**rest, key: value}


#: An object holding one lone surrogate somewhere: as a key or a value, at any depth.
hostile_objects: st.SearchStrategy[dict[str, Any]] = st.deferred(
    lambda: st.one_of(
        st.builds(_with, st.dictionaries(safe_keys, safe_values, max_size=2), hostile_strings, safe_values),
        st.builds(_with, st.dictionaries(safe_keys, safe_values, max_size=2), safe_keys, hostile_values),
    )
)
hostile_values: st.SearchStrategy[Any] = st.deferred(
    lambda: st.one_of(
        hostile_strings,
        hostile_objects,
        st.builds(
            lambda a, v, b: [*a, v, *b],
            st.lists(safe_values, max_size=2),
            hostile_values,
            st.lists(safe_values, max_size=2),
        ),
    )
)


def as_bytes(body: Any, *, raw: bool) -> bytes:
    """JSON with the surrogate as a ``\\uXXXX`` escape, or (``raw``) as its UTF-8-style bytes."""
    if raw:
        return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return json.dumps(body).encode()


def send(v: Victim, method: str, url: str, **kwargs: Any) -> requests.Response:
    return v.api.request(method, url, timeout=30, **kwargs)


def hostile_bodies(v: Victim, value: Any, obj: dict[str, Any], text: str) -> list[tuple[str, str, Any]]:
    """Every body of every route, with the hostile value, object or string in each place one goes."""
    url = v.gateway.url
    update = f"{url}/api/session/update"
    return [
        ("POST", f"{url}/api/session/init", {**v.ids, "project_id": "surrogate", "env": obj}),
        ("POST", f"{url}/api/session/init", {**v.ids, "env": {"k": value}}),
        ("POST", f"{url}/api/session/init", {**v.ids, "app_id": text}),
        ("PATCH", update, {"session_id": v.sid, "key": "secret", "value": value}),
        ("PATCH", update, {"session_id": v.sid, "navigation": obj}),
        ("PATCH", update, {"session_id": v.sid, "key": text, "value": 1}),
        ("PATCH", update, {"session_id": text, "key": "secret", "value": 1}),
        ("PUT", v.project_url, {"state": obj}),
        ("PUT", v.project_url, {"state": {"secret": value}}),
        ("PUT", v.project_url, {"state": {"secret": MARKER}, text: 1}),
    ]


REFUSED_BODY = {"invalid_json", "invalid_state", "invalid_id", "invalid_key", "invalid_request"}


@HOSTILE_EXAMPLES
@given(value=hostile_values, obj=hostile_objects, text=hostile_strings, raw=st.booleans())
def test_lone_surrogates_anywhere_in_a_body_are_400(
    victim: Victim, value: Any, obj: dict[str, Any], text: str, raw: bool
) -> None:
    headers = {"Content-Type": "application/json"}
    for method, url, body in hostile_bodies(victim, value, obj, text):
        response = send(victim, method, url, data=as_bytes(body, raw=raw), headers=headers)
        assert_error(response, 400, REFUSED_BODY)
    victim.assert_unchanged()


@pytest.mark.parametrize(
    "escape", ["\\ud800", "\\udfff", "\\ud83d", "\\ude00", "\\ude00\\ud83d", "a\\udc00b"]
)
def test_each_lone_surrogate_escape_is_400(victim: Victim, escape: str) -> None:
    headers, url = {"Content-Type": "application/json"}, victim.gateway.url
    for method, target, body in (
        (
            "POST",
            f"{url}/api/session/init",
            json.dumps({**victim.ids, "project_id": "s"})[:-1] + f', "env": {{"k": "{escape}"}}}}',
        ),
        (
            "POST",
            f"{url}/api/session/init",
            json.dumps({**victim.ids, "project_id": "s"})[:-1] + f', "env": {{"{escape}": 1}}}}',
        ),
        (
            "PATCH",
            f"{url}/api/session/update",
            f'{{"session_id": "{victim.sid}", "key": "secret", "value": "{escape}"}}',
        ),
        (
            "PATCH",
            f"{url}/api/session/update",
            f'{{"session_id": "{victim.sid}", "key": "secret", "value": {{"{escape}": 1}}}}',
        ),
        (
            "PATCH",
            f"{url}/api/session/update",
            f'{{"session_id": "{victim.sid}", "navigation": {{"p": ["{escape}"]}}}}',
        ),
        (
            "PATCH",
            f"{url}/api/session/update",
            f'{{"session_id": "{victim.sid}", "navigation": {{"{escape}": 1}}}}',
        ),
        ("PUT", victim.project_url, f'{{"state": {{"secret": "{escape}"}}}}'),
        ("PUT", victim.project_url, f'{{"state": {{"{escape}": "{MARKER}"}}}}'),
        ("PUT", victim.project_url, f'{{"state": {{"secret": "{MARKER}"}}, "{escape}": 1}}'),
    ):
        assert_error(send(victim, method, target, data=body.encode(), headers=headers), 400, REFUSED_BODY)
    victim.assert_unchanged()


def test_a_surrogate_pair_is_one_character_and_round_trips(gateway: Any, uid: str) -> None:
    ids = {"client_id": f"pair-{uid}", "user_id": "alice", "app_id": "web", "project_id": "p1"}
    api = gateway.session("alice", ids["client_id"])
    body = json.dumps({**ids, "env": {"\ud83d\ude00": "\ud83d\ude00"}}).encode()
    response = api.post(
        f"{gateway.url}/api/session/init", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["state"]["env"]["😀"] == "😀"


def translate(text: str, zero: int, mask: list[bool]) -> str:
    """``text`` with the ASCII digits chosen by ``mask`` written in the digit block starting at ``zero``."""
    digits = iter(mask * (len(text) // max(1, len(mask)) + 1))
    return "".join(chr(zero + int(c)) if c.isascii() and c.isdigit() and next(digits) else c for c in text)


def if_match_targets(v: Victim) -> list[tuple[str, str, dict[str, Any]]]:
    url = v.gateway.url
    return [
        (
            "PATCH",
            f"{url}/api/session/update",
            {"json": {"session_id": v.sid, "key": "secret", "value": "x"}},
        ),
        ("PATCH", f"{url}/api/session/update", {"json": {"session_id": v.sid, "navigation": {"p": "/x"}}}),
        ("PUT", v.project_url, {"json": {"state": {"secret": "overwritten"}}}),
        ("POST", f"{v.project_url}/snapshots/{v.snapshot_id}/restore", {}),
    ]


def assert_not_a_number(v: Victim, text: str) -> None:
    """``text`` in every integer place is refused: ``limit``, ``If-Match``, a snapshot id's version."""
    snapshots = f"{v.project_url}/snapshots"
    assert_error(send(v, "GET", snapshots, params={"limit": text}), 400, "invalid_request")
    # (Spaces around a bare header value are not part of it, as HTTP says.)
    bare = [text] if text.strip() == text else []
    for quoted in (*bare, f'"{text}"', f'W/"{text}"'):
        for method, url, kwargs in if_match_targets(v):
            # Sent as raw UTF-8 bytes, as a client that does not check would send them.
            response = send(v, method, url, headers={"If-Match": quoted.encode()}, **kwargs)
            assert_error(response, 400, "invalid_request")
    stamp = v.snapshot_id.partition("-")[2]
    forged = quote(f"{text}-{stamp}", safe="")
    assert_error(send(v, "POST", f"{snapshots}/{forged}/restore"), 404, "snapshot_not_found")
    assert_error(send(v, "GET", snapshots, params={"before": f"{text}-{stamp}"}), 404, "snapshot_not_found")


@HOSTILE_EXAMPLES
@given(text=unicode_numbers)
def test_unicode_digits_are_not_numbers(victim: Victim, text: str) -> None:
    assert_not_a_number(victim, text)
    victim.assert_unchanged()


@pytest.mark.parametrize(
    "text",
    [
        "²",
        "\u0661\u0660",
        "\uff11\uff10",
        "٢",
        "۲",
        "२",
        "\U0001d7d0",
        "①",
        "¹",
        "2²",
        "1 ",
        " 1",
        "+1",
        "-1",
        "1_0",
        "0x1",
        "1.0",
    ],
)
def test_each_non_ascii_or_signed_number_is_refused(victim: Victim, text: str) -> None:
    assert_not_a_number(victim, text)
    victim.assert_unchanged()


@HOSTILE_EXAMPLES
@given(zero=digit_zeros, mask=st.lists(st.booleans(), min_size=1, max_size=8).filter(any))
def test_snapshot_ids_in_other_digits_never_reach_the_snapshot(
    victim: Victim, zero: int, mask: list[bool]
) -> None:
    forged = translate(victim.snapshot_id, zero, mask)
    assert forged != victim.snapshot_id
    snapshots = f"{victim.project_url}/snapshots"
    restored = send(victim, "POST", f"{snapshots}/{quote(forged, safe='')}/restore")
    assert_error(restored, 404, "snapshot_not_found")
    assert_error(send(victim, "GET", snapshots, params={"before": forged}), 404, "snapshot_not_found")
    victim.assert_unchanged()


def test_snapshot_ids_parse_only_as_formed(victim: Victim) -> None:
    version, _, stamp = victim.snapshot_id.partition("-")
    snapshots = f"{victim.project_url}/snapshots"
    for forged in (
        f"0{version}-{stamp}",
        f"+{version}-{stamp}",
        f" {version}-{stamp}",
        f"{version}-{stamp[:15]}+{stamp[16:]}",
        f"{version}-{stamp[:15]} {stamp[16:]}",
        f"{version}-{stamp[:-1]}",
        f"{version}-{stamp}-",
        f"{version}-{stamp.lower()}",
        f"{version}-{stamp[:4]}{stamp[4:6].lstrip('0') or '0'}{stamp[6:]}",
    ):
        if forged == victim.snapshot_id:
            continue
        restored = send(victim, "POST", f"{snapshots}/{quote(forged, safe='')}/restore")
        assert_error(restored, 404, "snapshot_not_found")
    victim.assert_unchanged()


@HOSTILE_EXAMPLES
@given(text=oversized_numbers)
def test_oversized_numbers_are_refused(victim: Victim, text: str) -> None:
    assert_not_a_number(victim, text)
    victim.assert_unchanged()


@pytest.mark.parametrize("digits", [19, 100, 4_300, 4_301, 5_000, 60_000])
def test_each_oversized_number_is_refused(victim: Victim, digits: int) -> None:
    assert_not_a_number(victim, "9" * digits)
    victim.assert_unchanged()


# Requests larger than the gateway reads -----------------------------------------------------


def raw_exchange(gateway: Any, *requests_: bytes) -> bytes:
    """Send raw request bytes on one connection; everything the gateway answered until it closed."""
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        for request in requests_:
            conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def parse_responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    responses = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        length = int(headers.get("content-length", "0"))
        responses.append((int(status_line.split()[1]), headers, rest[:length]))
        data = rest[length:]
    return responses


def assert_raw_error(response: tuple[int, dict[str, str], bytes], status: int, code: str) -> None:
    got, headers, body = response
    assert got == status, (got, body[:200])
    assert headers["content-type"] == "application/json"
    parsed = json.loads(body)
    assert parsed["error"]["code"] == code and parsed["error"]["message"]
    assert parsed["error"]["request_id"] == headers["x-request-id"]
    assert set(parsed) == {"error"} and set(parsed["error"]) == {"code", "message", "request_id"}


def health(extra: bytes = b"") -> bytes:
    return b"GET /api/health HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"


@pytest.mark.parametrize("size", [65_537, 100_000])
def test_an_oversized_url_is_414_with_the_error_body(gateway: Any, size: int) -> None:
    target = b"/api/session/state?session_id=" + b"x" * size
    responses = parse_responses(
        raw_exchange(gateway, health(), b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    )
    # The first request is answered, the second refused; the rest of its line is never read
    # as another request.
    assert [status for status, _, _ in responses] == [200, 414]
    assert_raw_error(responses[1], 414, "uri_too_long")
    assert requests.get(f"{gateway.url}/api/health", timeout=10).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Big: " + b"x" * 70_000 + b"\r\n",
        b"Authorization: Bearer " + b"x" * 70_000 + b"\r\n",
        b"".join(b"X-H%d: 1\r\n" % i for i in range(101)),
    ],
    ids=["one long header", "long authorization", "101 headers"],
)
def test_oversized_headers_are_431_with_the_error_body(gateway: Any, headers: bytes) -> None:
    responses = parse_responses(raw_exchange(gateway, health(), health(headers)))
    assert [status for status, _, _ in responses] == [200, 431]
    assert_raw_error(responses[1], 431, "headers_too_large")
    assert requests.get(f"{gateway.url}/api/health", timeout=10).status_code == 200


@pytest.mark.parametrize("length", ["²", "\u0661\u0660", "-1", "1e2", "+5", "9" * 5_000, "5, 5"])
def test_a_content_length_that_is_not_ascii_digits_is_400(victim: Victim, length: str) -> None:
    token = victim.gateway.token(victim.user_id, victim.client_id)
    path = victim.project_url.removeprefix(victim.gateway.url)
    request = (
        f"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode() + b'{"state": {"secret": "overwritten"}}'
    responses = parse_responses(raw_exchange(victim.gateway, request))
    assert len(responses) == 1
    assert_raw_error(responses[0], 400, "invalid_request")
    victim.assert_unchanged()


@pytest.mark.parametrize(
    "request_line",
    [b"GET /api/health HTTP/2.0", b"GET /api/health HTTP/1.x", b"GET", b"GET /api/health HTTP/1.1 extra"],
)
def test_a_malformed_request_line_is_400_with_the_error_body(gateway: Any, request_line: bytes) -> None:
    responses = parse_responses(raw_exchange(gateway, request_line + b"\r\nHost: x\r\n\r\n"))
    assert len(responses) == 1
    assert_raw_error(responses[0], 400, "invalid_request")
