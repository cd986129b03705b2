"""The HTTP contract, row by row, over real HTTP against the local gateway."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from stateway_testing.gateway import assert_gateway_refusal

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module", params=["single-node", "cluster"])
def gateway(request: pytest.FixtureRequest, gateway: Any) -> Any:
    """The whole contract on a single Redis node and on the real 3-master cluster."""
    return gateway if request.param == "single-node" else request.getfixturevalue("cluster_gateway")


@pytest.fixture
def ids(uid: str) -> dict[str, str]:
    return {"client_id": f"acme-{uid}", "user_id": "alice", "app_id": "web", "project_id": "p1"}


@pytest.fixture
def api(gateway: Any, ids: dict[str, str]) -> requests.Session:
    return gateway.session(ids["user_id"], ids["client_id"])


def sid(ids: dict[str, str]) -> str:
    return f"session:{ids['client_id']}:{ids['user_id']}:{ids['app_id']}:{ids['project_id']}"


def project_url(gateway: Any, ids: dict[str, str], suffix: str = "") -> str:
    return f"{gateway.url}/api/project-state/{ids['client_id']}/{ids['app_id']}/{ids['project_id']}{suffix}"


def assert_error(response: requests.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"]["request_id"] == response.headers["X-Request-Id"]
    if code is not None:
        assert body["error"]["code"] == code


def every_route(gateway: Any, ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, url, kwargs) for every route but health, with the given ids."""
    s = sid(ids)
    return [
        ("POST", f"{gateway.url}/api/session/init", {"json": ids}),
        ("GET", f"{gateway.url}/api/session/state", {"params": {"session_id": s}}),
        ("PATCH", f"{gateway.url}/api/session/update", {"json": {"session_id": s, "key": "k", "value": 1}}),
        ("DELETE", f"{gateway.url}/api/session/end", {"params": {"session_id": s}}),
        (
            "DELETE",
            f"{gateway.url}/api/session/end",
            {"params": {"client_id": ids["client_id"], "all": "true"}},
        ),
        ("GET", f"{gateway.url}/api/session/list", {"params": {"client_id": ids["client_id"]}}),
        ("PUT", project_url(gateway, ids), {"json": {"state": {"a": 1}}}),
        ("GET", project_url(gateway, ids), {}),
        ("GET", project_url(gateway, ids, "/snapshots"), {}),
        ("POST", project_url(gateway, ids, "/snapshots/1-20261124T120000000Z/restore"), {}),
    ]


# Success bodies ------------------------------------------------------------------------


def test_health(gateway: Any) -> None:
    response = requests.get(f"{gateway.url}/api/health", timeout=5)
    assert (response.status_code, response.json()) == (200, {"cache": "ok", "store": "ok", "snapshots": "ok"})


def test_session_operations(gateway: Any, api: requests.Session, ids: dict[str, str]) -> None:
    init = api.post(f"{gateway.url}/api/session/init", json={**ids, "env": {"locale": "en"}})
    assert init.status_code == 200
    body = init.json()
    assert set(body) == {"session_id", "namespace", "state", "version", "created"}
    assert (body["session_id"], body["version"], body["created"]) == (sid(ids), 1, True)
    assert body["namespace"] == f"namespace:{ids['client_id']}:alice"
    assert body["state"]["env"]["locale"] == "en" and body["state"]["navigation"] == []
    assert init.headers["ETag"] == '"1"'
    assert api.post(f"{gateway.url}/api/session/init", json=ids).json()["created"] is False

    update = api.patch(
        f"{gateway.url}/api/session/update", json={"session_id": sid(ids), "key": "theme", "value": "dark"}
    )
    assert update.status_code == 200
    assert set(update.json()) == {"session_id", "state", "version"}
    assert update.json()["version"] == 2 and update.headers["ETag"] == '"2"'
    nav = api.patch(
        f"{gateway.url}/api/session/update", json={"session_id": sid(ids), "navigation": {"path": "/home"}}
    )
    assert nav.json()["state"]["navigation"] == [{"path": "/home"}]

    state = api.get(f"{gateway.url}/api/session/state", params={"session_id": sid(ids)})
    assert state.status_code == 200
    assert set(state.json()) == {"session_id", "state", "version", "source"}
    assert (state.json()["state"]["theme"], state.json()["version"], state.json()["source"]) == (
        "dark",
        3,
        "cache",
    )

    listed = api.get(f"{gateway.url}/api/session/list", params={"client_id": ids["client_id"]})
    assert listed.status_code == 200
    (item,) = listed.json()["sessions"]
    assert set(item) == {"session_id", "app_id", "project_id", "updated_at"}
    assert item["updated_at"].endswith("Z")

    end = api.delete(f"{gateway.url}/api/session/end", params={"session_id": sid(ids)})
    assert (end.status_code, end.content) == (204, b"")
    assert api.delete(f"{gateway.url}/api/session/end", params={"session_id": sid(ids)}).status_code == 204
    assert (
        api.get(f"{gateway.url}/api/session/list", params={"client_id": ids["client_id"]}).json()["sessions"]
        == []
    )


def test_end_all(gateway: Any, api: requests.Session, ids: dict[str, str]) -> None:
    for project in ("p1", "p2"):
        api.post(f"{gateway.url}/api/session/init", json={**ids, "project_id": project})
    end = api.delete(f"{gateway.url}/api/session/end", params={"client_id": ids["client_id"], "all": "true"})
    assert end.status_code == 204
    assert (
        api.get(f"{gateway.url}/api/session/list", params={"client_id": ids["client_id"]}).json()["sessions"]
        == []
    )


def test_project_operations(gateway: Any, api: requests.Session, ids: dict[str, str]) -> None:
    assert_error(api.get(project_url(gateway, ids)), 404, "project_state_not_found")
    saved = api.put(project_url(gateway, ids), json={"state": {"zoom": 1, "layers": []}})
    assert saved.status_code == 200
    body = saved.json()
    assert set(body) == {"version", "saved_at", "snapshot"}
    assert body["version"] == 1 and body["snapshot"]["status"] == "ok"
    first_snapshot = body["snapshot"]["id"]
    api.put(project_url(gateway, ids), json={"state": {"zoom": 2}})

    loaded = api.get(project_url(gateway, ids))
    assert loaded.json() == {
        "state": {"zoom": 2},
        "version": 2,
        "saved_at": loaded.json()["saved_at"],
        "source": "cache",
    }

    snaps = api.get(project_url(gateway, ids, "/snapshots"), params={"limit": 1})
    assert snaps.status_code == 200
    assert [s["version"] for s in snaps.json()["snapshots"]] == [2]
    assert set(snaps.json()["snapshots"][0]) == {"id", "version", "saved_at", "size"}
    older = api.get(
        project_url(gateway, ids, "/snapshots"), params={"limit": 1, "before": snaps.json()["next"]}
    )
    assert [s["id"] for s in older.json()["snapshots"]] == [first_snapshot]

    restored = api.post(project_url(gateway, ids, f"/snapshots/{first_snapshot}/restore"))
    assert restored.status_code == 200 and restored.json()["version"] == 3
    assert api.get(project_url(gateway, ids)).json()["state"] == {"zoom": 1, "layers": []}
    assert_error(
        api.post(project_url(gateway, ids, "/snapshots/9-20200101T000000000Z/restore")),
        404,
        "snapshot_not_found",
    )


# 401 / 403 on every route --------------------------------------------------------------


def test_no_token_or_bad_token_is_401_everywhere(gateway: Any, ids: dict[str, str]) -> None:
    """The HTTP API's JWT authorizer answers, before any function: API Gateway's 401, no error body."""
    bad_tokens = [
        None,
        "not-a-jwt",
        gateway.token("alice", ids["client_id"], secret="another-secret-that-is-long-enough-for-hs256"),
        gateway.token("alice", ids["client_id"], ttl=-60),
    ]
    for method, url, kwargs in every_route(gateway, ids):
        for token in bad_tokens:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = requests.request(method, url, headers=headers, timeout=5, **kwargs)
            assert_gateway_refusal(response, 401, "Unauthorized")


def test_another_users_or_clients_ids_are_403_everywhere(gateway: Any, ids: dict[str, str]) -> None:
    mallory_same_client = gateway.session("mallory", ids["client_id"])
    alice_other_client = gateway.session("alice", "other-client")
    for method, url, kwargs in every_route(gateway, ids):
        if "project-state" in url:
            # Project state belongs to the client: another user of the same client may use it.
            callers = [alice_other_client]
        elif "all" in kwargs.get("params", {}) or url.endswith("/list"):
            callers = [alice_other_client]
        else:
            callers = [mallory_same_client, alice_other_client]
        for caller in callers:
            assert_error(caller.request(method, url, **kwargs), 403, "forbidden")


# 400 / 415 / 413 / 412 -----------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_id",
    ["", ".dot", "a:b", "a/b", "a$b", "sp ace", "é", "x" * 129],
)
def test_bad_ids_are_400(gateway: Any, api: requests.Session, ids: dict[str, str], bad_id: str) -> None:
    response = api.post(f"{gateway.url}/api/session/init", json={**ids, "app_id": bad_id})
    assert_error(response, 400, "invalid_id")
    bad_sid = f"session:{ids['client_id']}:alice:{bad_id}:p1"
    assert_error(api.get(f"{gateway.url}/api/session/state", params={"session_id": bad_sid}), 400)


@pytest.mark.parametrize("key", ["a.b", "$set", "a:b", "1abc", "-x", "", "x" * 65])
def test_bad_keys_are_400_and_change_nothing(
    gateway: Any, api: requests.Session, ids: dict[str, str], key: str
) -> None:
    api.post(f"{gateway.url}/api/session/init", json=ids)
    response = api.patch(
        f"{gateway.url}/api/session/update", json={"session_id": sid(ids), "key": key, "value": 1}
    )
    assert_error(response, 400, "invalid_key")
    assert api.get(f"{gateway.url}/api/session/state", params={"session_id": sid(ids)}).json()["version"] == 1


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[1, 2]", b'"text"', b"", b'{"a": NaN}', b'{"client_id": "a", "client_id": "b"}', b"\xff\xfe"],
)
def test_bad_json_is_400(gateway: Any, api: requests.Session, raw: bytes) -> None:
    response = api.post(f"{gateway.url}/api/session/init", data=raw, headers=JSON)
    assert_error(response, 400)
    assert response.json()["error"]["code"] in ("invalid_json", "invalid_request")


def test_other_content_type_is_415(gateway: Any, api: requests.Session, ids: dict[str, str]) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = api.post(
            f"{gateway.url}/api/session/init", data=json.dumps(ids), headers={"Content-Type": content_type}
        )
        assert_error(response, 415, "unsupported_media_type")
    response = api.put(project_url(gateway, ids), data="state=1", headers={"Content-Type": "text/plain"})
    assert_error(response, 415, "unsupported_media_type")


def test_over_the_size_limit_is_413_and_changes_nothing(
    gateway: Any, api: requests.Session, ids: dict[str, str]
) -> None:
    api.post(f"{gateway.url}/api/session/init", json=ids)
    big = "x" * 70_000  # the gateway runs with STATEWAY_MAX_STATE_BYTES=65536
    response = api.patch(
        f"{gateway.url}/api/session/update", json={"session_id": sid(ids), "key": "blob", "value": big}
    )
    assert_error(response, 413, "state_too_large")
    for i in range(3):
        part = {"session_id": sid(ids), "key": f"part{i}", "value": "y" * 25_000}
        last = api.patch(f"{gateway.url}/api/session/update", json=part)
    assert_error(last, 413, "state_too_large")
    assert api.get(f"{gateway.url}/api/session/state", params={"session_id": sid(ids)}).json()["version"] == 3
    assert_error(api.put(project_url(gateway, ids), json={"state": {"blob": big}}), 413, "state_too_large")
    assert_error(api.get(project_url(gateway, ids)), 404)


def test_stale_if_match_is_412_and_changes_nothing(
    gateway: Any, api: requests.Session, ids: dict[str, str]
) -> None:
    api.post(f"{gateway.url}/api/session/init", json=ids)
    update = {"session_id": sid(ids), "key": "k", "value": 1}
    assert (
        api.patch(f"{gateway.url}/api/session/update", json=update, headers={"If-Match": '"1"'}).status_code
        == 200
    )
    stale = api.patch(
        f"{gateway.url}/api/session/update", json={**update, "value": 2}, headers={"If-Match": "1"}
    )
    assert_error(stale, 412, "version_mismatch")
    state = api.get(f"{gateway.url}/api/session/state", params={"session_id": sid(ids)}).json()
    assert (state["version"], state["state"]["k"]) == (2, 1)

    api.put(project_url(gateway, ids), json={"state": {"v": 1}})
    assert_error(
        api.put(project_url(gateway, ids), json={"state": {"v": 2}}, headers={"If-Match": '"7"'}), 412
    )
    assert api.get(project_url(gateway, ids)).json()["state"] == {"v": 1}


def test_unknown_routes_and_undeclared_methods_are_api_gateways_404(
    gateway: Any, api: requests.Session
) -> None:
    # An HTTP API has no 405: a method the route does not declare matches no route.
    assert_gateway_refusal(api.get(f"{gateway.url}/api/nope"), 404, "Not Found")
    assert_gateway_refusal(api.post(f"{gateway.url}/api/session/state", json={}), 404, "Not Found")
    assert_gateway_refusal(requests.delete(f"{gateway.url}/api/health", timeout=5), 404, "Not Found")


# 503 ---------------------------------------------------------------------------------


def test_writes_answer_503_while_the_store_is_down(
    gateway: Any, api: requests.Session, ids: dict[str, str]
) -> None:
    api.post(f"{gateway.url}/api/session/init", json=ids)
    gateway.mongo.stop()
    try:
        update = api.patch(
            f"{gateway.url}/api/session/update", json={"session_id": sid(ids), "key": "k", "value": 1}
        )
        assert_error(update, 503, "store_unavailable")
        assert_error(api.put(project_url(gateway, ids), json={"state": {"a": 1}}), 503, "store_unavailable")
        # A cached session is still served.
        cached = api.get(f"{gateway.url}/api/session/state", params={"session_id": sid(ids)})
        assert (cached.status_code, cached.json()["source"], cached.json()["version"]) == (200, "cache", 1)
        health = requests.get(f"{gateway.url}/api/health", timeout=10)
        assert health.status_code == 503 and health.json()["store"] == "down"
    finally:
        gateway.mongo.start()
    ok = api.patch(f"{gateway.url}/api/session/update", json={"session_id": sid(ids), "key": "k", "value": 1})
    assert ok.status_code == 200 and ok.json()["version"] == 2


def test_any_other_method_is_404_and_path_ids_are_url_decoded(
    gateway: Any, api: requests.Session, ids: dict[str, str]
) -> None:
    assert_gateway_refusal(api.request("TRACE", f"{gateway.url}/api/session/list"), 404, "Not Found")
    at_ids = {**ids, "project_id": "p@x"}
    saved = api.put(project_url(gateway, {**ids, "project_id": "p%40x"}), json={"state": {"a": 1}})
    assert saved.status_code == 200
    assert api.get(project_url(gateway, at_ids)).json()["state"] == {"a": 1}
