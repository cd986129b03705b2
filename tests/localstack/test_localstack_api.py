"""The contract's main scenarios through LocalStack's REST API, on the free-plan stack.

Every request goes API Gateway (LocalStack's REST API) → Lambda (the function's
wrapper, then its handler) → Redis, MongoDB and LocalStack's S3: the same
functions and layer code as in AWS, the deployment of ``infra/localstack``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests

from stateway.tiers.mongo_store import INDEXES
from stateway.tiers.s3_snapshots import object_name, parse_snapshot_id
from stateway_testing.clients import mongo_client

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def ids() -> dict[str, str]:
    return {
        "client_id": f"acme-{uuid.uuid4().hex[:8]}",
        "user_id": "alice",
        "app_id": "web",
        "project_id": "p1",
    }


def sid(ids: dict[str, str], project: str = "p1") -> str:
    return f"session:{ids['client_id']}:{ids['user_id']}:{ids['app_id']}:{project}"


def project_url(url: str, ids: dict[str, str], suffix: str = "") -> str:
    return f"{url}/api/project-state/{ids['client_id']}/{ids['app_id']}/{ids['project_id']}{suffix}"


def assert_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert body["error"]["request_id"] == response.headers["X-Request-Id"]


def test_health_is_public(localstack: Any) -> None:
    response = requests.get(f"{localstack.url}/api/health", timeout=30)
    assert (response.status_code, response.json()) == (200, {"cache": "ok", "store": "ok", "snapshots": "ok"})


def test_the_stacks_migration_created_the_stores_indexes(localstack: Any) -> None:
    """The Migration custom resource ran the migration function through CloudFormation."""
    client = mongo_client(localstack.mongo_uri)
    try:
        database = client["stateway"]
        for index in INDEXES:
            names = [i["name"] for i in database[index.collection].list_indexes()]
            assert index.name in names, (index, names)
    finally:
        client.close()


def test_a_session_from_init_to_end(localstack: Any, ids: dict[str, str]) -> None:
    url = localstack.url
    api = localstack.session(ids["user_id"], ids["client_id"])
    init = api.post(f"{url}/api/session/init", json={**ids, "env": {"locale": "en"}}, timeout=60)
    assert init.status_code == 200, init.text
    assert (init.json()["session_id"], init.json()["version"], init.json()["created"]) == (sid(ids), 1, True)
    assert init.headers["ETag"] == '"1"'
    assert api.post(f"{url}/api/session/init", json=ids, timeout=60).json()["created"] is False

    update = api.patch(
        f"{url}/api/session/update",
        json={"session_id": sid(ids), "key": "theme", "value": "dark"},
        timeout=60,
    )
    assert (update.status_code, update.json()["version"]) == (200, 2), update.text
    nav = api.patch(
        f"{url}/api/session/update",
        json={"session_id": sid(ids), "navigation": {"path": "/home"}},
        timeout=60,
    )
    assert nav.json()["state"]["navigation"] == [{"path": "/home"}]
    stale = api.patch(
        f"{url}/api/session/update",
        json={"session_id": sid(ids), "key": "theme", "value": "light"},
        headers={"If-Match": '"1"'},
        timeout=60,
    )
    assert_error(stale, 412, "version_mismatch")

    state = api.get(f"{url}/api/session/state", params={"session_id": sid(ids)}, timeout=60)
    assert state.status_code == 200
    assert (state.json()["state"]["theme"], state.json()["version"], state.json()["source"]) == (
        "dark",
        3,
        "cache",
    )

    listed = api.get(f"{url}/api/session/list", params={"client_id": ids["client_id"]}, timeout=60)
    assert [item["session_id"] for item in listed.json()["sessions"]] == [sid(ids)]

    end = api.delete(f"{url}/api/session/end", params={"session_id": sid(ids)}, timeout=60)
    assert (end.status_code, end.content) == (204, b"")
    # An ended session's state is the defaults again (the contract's cache → store → defaults).
    gone = api.get(f"{url}/api/session/state", params={"session_id": sid(ids)}, timeout=60)
    assert (gone.status_code, gone.json()["source"]) == (200, "default")
    assert "theme" not in gone.json()["state"]


def test_end_all_of_a_users_sessions(localstack: Any, ids: dict[str, str]) -> None:
    url = localstack.url
    api = localstack.session(ids["user_id"], ids["client_id"])
    for project in ("p1", "p2"):
        assert (
            api.post(f"{url}/api/session/init", json={**ids, "project_id": project}, timeout=60).status_code
            == 200
        )
    listed = api.get(f"{url}/api/session/list", params={"client_id": ids["client_id"]}, timeout=60)
    assert sorted(item["project_id"] for item in listed.json()["sessions"]) == ["p1", "p2"]
    end = api.delete(
        f"{url}/api/session/end", params={"client_id": ids["client_id"], "all": "true"}, timeout=60
    )
    assert end.status_code == 204
    listed = api.get(f"{url}/api/session/list", params={"client_id": ids["client_id"]}, timeout=60)
    assert listed.json()["sessions"] == []


def test_project_state_with_snapshots_in_localstacks_s3(localstack: Any, ids: dict[str, str]) -> None:
    url = localstack.url
    api = localstack.session(ids["user_id"], ids["client_id"])
    saved = [api.put(project_url(url, ids), json={"state": {"zoom": n}}, timeout=60) for n in (1, 2)]
    assert [(s.status_code, s.json()["version"], s.json()["snapshot"]["status"]) for s in saved] == [
        (200, 1, "ok"),
        (200, 2, "ok"),
    ]
    loaded = api.get(project_url(url, ids), timeout=60).json()
    assert (loaded["state"], loaded["version"], loaded["source"]) == ({"zoom": 2}, 2, "cache")

    history = api.get(project_url(url, ids, "/snapshots"), timeout=60).json()["snapshots"]
    assert [s["version"] for s in history] == [2, 1]
    assert [s["id"] for s in history] == [s.json()["snapshot"]["id"] for s in reversed(saved)]

    # The snapshots are objects in the stack's own bucket, in LocalStack's S3.
    prefix = f"project-state/{ids['client_id']}/{ids['app_id']}/{ids['project_id']}/"
    listing = localstack.s3().list_objects_v2(Bucket=localstack.bucket, Prefix=prefix)
    keys = sorted(obj["Key"] for obj in listing.get("Contents", []))
    assert keys == sorted(prefix + object_name(*parse_snapshot_id(s["id"])) for s in history)
    body = json.loads(
        localstack.s3()
        .get_object(Bucket=localstack.bucket, Key=prefix + object_name(*parse_snapshot_id(history[1]["id"])))[
            "Body"
        ]
        .read()
    )
    assert (body["version"], body["state"]) == (1, {"zoom": 1})

    restored = api.post(project_url(url, ids, f"/snapshots/{history[1]['id']}/restore"), timeout=60)
    assert (restored.status_code, restored.json()["version"]) == (200, 3), restored.text
    assert api.get(project_url(url, ids), timeout=60).json()["state"] == {"zoom": 1}
    assert_error(
        api.post(project_url(url, ids, "/snapshots/9-20200101T000000000Z/restore"), timeout=60),
        404,
        "snapshot_not_found",
    )


def test_no_token_or_a_bad_one_is_401_before_any_function_runs(localstack: Any, ids: dict[str, str]) -> None:
    url = f"{localstack.url}/api/session/init"
    for headers in (
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": f"Bearer {localstack.token('alice', ids['client_id'], secret='x' * 40)}"},
        {"Authorization": f"Bearer {localstack.token('alice', ids['client_id'], ttl=-60)}"},
    ):
        response = requests.post(url, json=ids, headers=headers, timeout=60)
        assert response.status_code == 401, (headers, response.text)
        assert response.json() == {"message": "Unauthorized"}
        assert response.headers.get("www-authenticate", "").startswith("Bearer")
        assert "X-Request-Id" not in response.headers
    # Nothing was created by the refused requests.
    api = localstack.session(ids["user_id"], ids["client_id"])
    listed = api.get(f"{localstack.url}/api/session/list", params={"client_id": ids["client_id"]}, timeout=60)
    assert listed.json()["sessions"] == []


def test_another_users_or_clients_ids_are_403(localstack: Any, ids: dict[str, str]) -> None:
    url = localstack.url
    mallory = localstack.session("mallory", ids["client_id"])
    assert_error(mallory.post(f"{url}/api/session/init", json=ids, timeout=60), 403, "forbidden")
    other_client = localstack.session("alice", "other-client")
    assert_error(
        other_client.put(project_url(url, ids), json={"state": {"a": 1}}, timeout=60), 403, "forbidden"
    )
