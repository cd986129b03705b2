"""Concurrent clients over HTTP against the local gateway: nothing lost, conflicts decided once.

Each scenario starts its threads at a barrier so that their requests overlap,
then checks the answers and what the store holds (read with pymongo).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
import requests

from stateway_testing.clients import mongo_client

T = TypeVar("T")

WRITERS = 8
KEYS_PER_WRITER = 6


@pytest.fixture(scope="module")
def store(gateway: Any) -> Iterator[Any]:
    """The gateway's MongoDB database, read directly."""
    client = mongo_client(gateway.mongo.uri)
    yield client["stateway"]
    client.close()


@pytest.fixture
def ids(uid: str) -> dict[str, str]:
    return {"client_id": f"conc-{uid}", "user_id": "alice", "app_id": "web", "project_id": "p1"}


def sid(ids: dict[str, str]) -> str:
    return f"session:{ids['client_id']}:{ids['user_id']}:{ids['app_id']}:{ids['project_id']}"


def project_url(gateway: Any, ids: dict[str, str]) -> str:
    return f"{gateway.url}/api/project-state/{ids['client_id']}/{ids['app_id']}/{ids['project_id']}"


def all_at_once(
    count: int, work: Callable[[int, requests.Session], T], gateway: Any, ids: dict[str, str]
) -> list[T]:
    """Run ``work(i, session)`` in ``count`` threads released together; results in index order."""
    barrier = threading.Barrier(count)
    sessions = [gateway.session(ids["user_id"], ids["client_id"]) for _ in range(count)]

    def run(i: int) -> T:
        barrier.wait(timeout=30)
        return work(i, sessions[i])

    try:
        with ThreadPoolExecutor(max_workers=count) as pool:
            return list(pool.map(run, range(count)))
    finally:
        for s in sessions:
            s.close()


def test_concurrent_writers_of_distinct_keys_lose_nothing(
    gateway: Any, store: Any, ids: dict[str, str]
) -> None:
    api = gateway.session(ids["user_id"], ids["client_id"])
    assert api.post(f"{gateway.url}/api/session/init", json=ids).json()["version"] == 1

    def writer(i: int, s: requests.Session) -> list[tuple[str, int, int]]:
        acknowledged = []
        for j in range(KEYS_PER_WRITER):
            key, value = f"w{i}_k{j}", i * 1000 + j
            response = s.patch(
                f"{gateway.url}/api/session/update",
                json={"session_id": sid(ids), "key": key, "value": value},
                timeout=30,
            )
            assert response.status_code == 200, response.text
            body = response.json()
            # The answer is this request's own: its key is in the state it returns.
            assert body["state"][key] == value
            assert response.headers["ETag"] == f'"{body["version"]}"'
            acknowledged.append((key, value, body["version"]))
        return acknowledged

    results = [ack for batch in all_at_once(WRITERS, writer, gateway, ids) for ack in batch]
    total = WRITERS * KEYS_PER_WRITER
    # Every write got a version of its own: the updates were serialized, none overwrote another.
    assert sorted(version for _, _, version in results) == list(range(2, total + 2))

    doc = store.sessions.find_one({"_id": sid(ids)})
    assert doc["version"] == total + 1
    assert {key: doc["state"][key] for key, _, _ in results} == {key: value for key, value, _ in results}

    state = api.get(f"{gateway.url}/api/session/state", params={"session_id": sid(ids)}).json()
    # The cache ends on the newest version: an older write never replaced a newer entry.
    assert (state["source"], state["version"]) == ("cache", total + 1)
    assert all(state["state"][key] == value for key, value, _ in results)


def test_concurrent_navigation_appends_all_survive(gateway: Any, store: Any, ids: dict[str, str]) -> None:
    api = gateway.session(ids["user_id"], ids["client_id"])
    api.post(f"{gateway.url}/api/session/init", json=ids)

    def writer(i: int, s: requests.Session) -> int:
        response = s.patch(
            f"{gateway.url}/api/session/update",
            json={"session_id": sid(ids), "navigation": {"path": f"/page/{i}"}},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        version: int = response.json()["version"]
        return version

    versions = all_at_once(WRITERS, writer, gateway, ids)
    assert sorted(versions) == list(range(2, WRITERS + 2))
    doc = store.sessions.find_one({"_id": sid(ids)})
    assert sorted(entry["path"] for entry in doc["state"]["navigation"]) == sorted(
        f"/page/{i}" for i in range(WRITERS)
    )


def test_conflicting_if_match_writers_one_wins(gateway: Any, store: Any, ids: dict[str, str]) -> None:
    api = gateway.session(ids["user_id"], ids["client_id"])
    api.post(f"{gateway.url}/api/session/init", json=ids)
    api.patch(
        f"{gateway.url}/api/session/update", json={"session_id": sid(ids), "key": "owner", "value": None}
    )

    def writer(i: int, s: requests.Session) -> requests.Response:
        return s.patch(
            f"{gateway.url}/api/session/update",
            json={"session_id": sid(ids), "key": "owner", "value": f"writer-{i}"},
            headers={"If-Match": '"2"'},
            timeout=30,
        )

    responses = all_at_once(WRITERS, writer, gateway, ids)
    winners = [i for i, r in enumerate(responses) if r.status_code == 200]
    assert len(winners) == 1, [r.status_code for r in responses]
    losers = [r for r in responses if r.status_code != 200]
    assert all(r.status_code == 412 and r.json()["error"]["code"] == "version_mismatch" for r in losers)
    assert responses[winners[0]].json()["version"] == 3

    doc = store.sessions.find_one({"_id": sid(ids)})
    assert (doc["version"], doc["state"]["owner"]) == (3, f"writer-{winners[0]}")
    state = api.get(f"{gateway.url}/api/session/state", params={"session_id": sid(ids)}).json()
    assert (state["version"], state["state"]["owner"]) == (3, f"writer-{winners[0]}")


def test_conflicting_if_match_project_saves_one_wins(gateway: Any, store: Any, ids: dict[str, str]) -> None:
    api = gateway.session(ids["user_id"], ids["client_id"])
    assert api.put(project_url(gateway, ids), json={"state": {"owner": None}}).json()["version"] == 1

    def saver(i: int, s: requests.Session) -> requests.Response:
        return s.put(
            project_url(gateway, ids), json={"state": {"owner": i}}, headers={"If-Match": "1"}, timeout=30
        )

    responses = all_at_once(WRITERS, saver, gateway, ids)
    winners = [i for i, r in enumerate(responses) if r.status_code == 200]
    assert len(winners) == 1, [r.status_code for r in responses]
    assert all(r.status_code == 412 for r in responses if r.status_code != 200)

    doc = store.project_states.find_one({"client_id": ids["client_id"]})
    assert (doc["version"], doc["state"]) == (2, {"owner": winners[0]})
    loaded = api.get(project_url(gateway, ids)).json()
    assert (loaded["version"], loaded["state"]) == (2, {"owner": winners[0]})
    snapshots = api.get(f"{project_url(gateway, ids)}/snapshots").json()["snapshots"]
    assert [s["version"] for s in snapshots] == [2, 1]


def test_concurrent_init_creates_once(gateway: Any, store: Any, ids: dict[str, str]) -> None:
    def init(i: int, s: requests.Session) -> dict[str, Any]:
        response = s.post(
            f"{gateway.url}/api/session/init", json={**ids, "env": {"writer": str(i)}}, timeout=30
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    bodies = all_at_once(WRITERS, init, gateway, ids)
    assert sum(body["created"] for body in bodies) == 1
    assert {body["session_id"] for body in bodies} == {sid(ids)}
    assert {body["version"] for body in bodies} == {1}
    # Every caller sees the one state that was created, the creator's env included.
    (creator,) = [body for body in bodies if body["created"]]
    assert all(body["state"] == creator["state"] for body in bodies)

    assert store.sessions.count_documents({"_id": sid(ids)}) == 1
    assert store.sessions.count_documents({"client_id": ids["client_id"]}) == 1
    api = gateway.session(ids["user_id"], ids["client_id"])
    listed = api.get(f"{gateway.url}/api/session/list", params={"client_id": ids["client_id"]}).json()
    assert [s["session_id"] for s in listed["sessions"]] == [sid(ids)]


def test_concurrent_first_saves_each_get_their_own_version(
    gateway: Any, store: Any, ids: dict[str, str]
) -> None:
    def saver(i: int, s: requests.Session) -> int:
        response = s.put(project_url(gateway, ids), json={"state": {"writer": i}}, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["snapshot"]["status"] == "ok"
        version: int = response.json()["version"]
        return version

    versions = all_at_once(WRITERS, saver, gateway, ids)
    assert sorted(versions) == list(range(1, WRITERS + 1))
    assert store.project_states.count_documents({"client_id": ids["client_id"]}) == 1
    doc = store.project_states.find_one({"client_id": ids["client_id"]})
    last = versions.index(WRITERS)
    assert (doc["version"], doc["state"]) == (WRITERS, {"writer": last})
