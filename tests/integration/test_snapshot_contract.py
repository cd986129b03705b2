"""The S3 snapshot tier's contract, against moto's S3 server and SeaweedFS (which checks SigV4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stateway.errors import SnapshotNotFound, SnapshotsUnavailable
from stateway.tiers.s3_snapshots import S3Snapshots, parse_snapshot_id, snapshot_id
from stateway_local.seaweed import SeaweedS3
from stateway_local.servers import MotoS3Server, create_bucket
from stateway_testing.clients import s3_client

T0 = datetime(2026, 11, 24, 12, 0, 0, 123000, tzinfo=UTC)
BUCKET = "stateway-contract"


class CountingClient:
    """A real boto3 client that counts the requests it sends."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**kwargs: Any) -> Any:
            self.calls += 1
            return method(**kwargs)

        return call


@pytest.fixture(scope="module", params=["moto", "seaweedfs"])
def backend(request: pytest.FixtureRequest, s3_endpoint: str) -> Any:
    if request.param == "moto":
        create_bucket(s3_endpoint, BUCKET)
        return s3_client(s3_endpoint)
    server: SeaweedS3 = request.getfixturevalue("seaweed")
    creds = {"aws_access_key_id": server.access_key, "aws_secret_access_key": server.secret_key}
    create_bucket(server.endpoint, BUCKET, **creds)
    return s3_client(server.endpoint, **creds)


@pytest.fixture
def client(backend: Any) -> CountingClient:
    return CountingClient(backend)


@pytest.fixture
def snaps(client: CountingClient) -> S3Snapshots:
    return S3Snapshots(client, BUCKET)


@pytest.fixture
def prefix() -> str:
    return f"project-state/c{uuid.uuid4().hex[:8]}/app/p1/"


def test_ids_round_trip() -> None:
    assert snapshot_id(7, T0) == "7-20261124T120000123Z"
    assert parse_snapshot_id("7-20261124T120000123Z") == (7, T0)
    for bad in ("", "7", "x-20261124T120000123Z", "7-2026", "7-20261124T120000123", "../etc"):
        with pytest.raises(SnapshotNotFound):
            parse_snapshot_id(bad)


def test_put_get_round_trip(snaps: S3Snapshots, prefix: str) -> None:
    info = snaps.put(prefix, 3, T0, b'{"state":{"a":1}}')
    assert (info.version, info.saved_at, info.size) == (3, T0, 17)
    assert snaps.get(prefix, info.id) == b'{"state":{"a":1}}'


def test_unknown_snapshot_is_not_found(snaps: S3Snapshots, prefix: str) -> None:
    with pytest.raises(SnapshotNotFound):
        snaps.get(prefix, snapshot_id(99, T0))


def test_newest_is_one_request_and_lists_newest_first(
    snaps: S3Snapshots, client: CountingClient, prefix: str
) -> None:
    assert snaps.newest(prefix) is None
    for v in range(1, 13):
        snaps.put(prefix, v, T0 + timedelta(seconds=v), b"{}")
    client.calls = 0
    newest = snaps.newest(prefix)
    assert client.calls == 1
    assert newest is not None and newest.version == 12

    page, cursor = snaps.list(prefix, limit=5)
    assert [s.version for s in page] == [12, 11, 10, 9, 8]
    page, cursor = snaps.list(prefix, limit=5, before=cursor)
    assert [s.version for s in page] == [7, 6, 5, 4, 3]
    page, cursor = snaps.list(prefix, limit=5, before=cursor)
    assert [s.version for s in page] == [2, 1]
    assert cursor is None


def test_prefixes_of_other_projects_are_not_listed(snaps: S3Snapshots, prefix: str) -> None:
    snaps.put(prefix, 1, T0, b"{}")
    snaps.put(prefix.replace("/p1/", "/p10/"), 5, T0, b"{}")
    page, _ = snaps.list(prefix, limit=10)
    assert [s.version for s in page] == [1]


def test_server_down_is_unavailable(tmp_path: Path) -> None:
    server = MotoS3Server()
    server.start()
    create_bucket(server.endpoint, BUCKET)
    snaps = S3Snapshots(s3_client(server.endpoint), BUCKET)
    snaps.put("project-state/a/b/c/", 1, T0, b"{}")
    server.stop()
    with pytest.raises(SnapshotsUnavailable):
        snaps.put("project-state/a/b/c/", 2, T0, b"{}")
    with pytest.raises(SnapshotsUnavailable):
        snaps.newest("project-state/a/b/c/")
