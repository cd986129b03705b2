"""The S3 snapshot tier: one JSON object per project save.

Objects live under ``project-state/<client_id>/<app_id>/<project_id>/`` and are
named ``<inverted version, 19 digits>-<UTC stamp>.json``. S3 lists keys in
ascending order, so the listing order is newest first: the newest snapshot is
one ``ListObjectsV2`` with ``MaxKeys=1`` however many snapshots exist, and
pages of history are plain listings with ``StartAfter``.

boto3 is imported only when a client is built here: the session functions
never import this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Protocol

from stateway.errors import SnapshotNotFound, SnapshotsUnavailable
from stateway.ids import SNAPSHOT_ROOT
from stateway.metrics import METRICS

_VERSION_SPAN = 10**19 - 1
_STAMP_FORMAT = "%Y%m%dT%H%M%S"


class S3ClientLike(Protocol):
    """The part of a boto3 S3 client this tier uses."""

    def put_object(self, **kwargs: Any) -> Any: ...
    def get_object(self, **kwargs: Any) -> Any: ...
    def list_objects_v2(self, **kwargs: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    id: str
    version: int
    saved_at: datetime
    size: int


def stamp(moment: datetime) -> str:
    """``yyyymmddThhmmssfffZ`` in UTC."""
    moment = moment.astimezone(UTC)
    return f"{moment.strftime(_STAMP_FORMAT)}{moment.microsecond // 1000:03d}Z"


# What stamp() writes, and nothing else: ASCII digits only (strptime and int() also take
# other scripts' digits, signs and spaces).
_STAMP_RE = re.compile(r"[0-9]{8}T[0-9]{9}Z", re.ASCII)
# What snapshot_id() writes: a version without leading zeros, a stamp. A version, like
# If-Match, has at most 18 digits (ids.INT_MAX_DIGITS), which always fit in 64 bits.
_ID_RE = re.compile(r"([1-9][0-9]{0,17}|0)-([0-9]{8}T[0-9]{9}Z)", re.ASCII)
# What object_name() writes.
_NAME_RE = re.compile(r"([0-9]{19})-([0-9]{8}T[0-9]{9}Z)\.json", re.ASCII)


def parse_stamp(value: str) -> datetime:
    """The moment :func:`stamp` wrote as ``value``; :class:`ValueError` for any other text."""
    if _STAMP_RE.fullmatch(value) is None:
        raise ValueError(value)
    base = datetime.strptime(value[:15], _STAMP_FORMAT).replace(tzinfo=UTC)
    moment = base.replace(microsecond=int(value[15:18]) * 1000)
    if stamp(moment) != value:
        raise ValueError(value)
    return moment


def snapshot_id(version: int, saved_at: datetime) -> str:
    return f"{version}-{stamp(saved_at)}"


def parse_snapshot_id(value: str) -> tuple[int, datetime]:
    """Split a snapshot id exactly as :func:`snapshot_id` forms it; :class:`SnapshotNotFound` otherwise.

    ``parse_snapshot_id(i)`` succeeds only when ``snapshot_id(*parse_snapshot_id(i)) == i``:
    no other digits, signs, spaces or leading zeros name a snapshot.
    """
    match = _ID_RE.fullmatch(value) if len(value) <= 40 else None
    if match is None:
        raise SnapshotNotFound()
    try:
        return int(match.group(1)), parse_stamp(match.group(2))
    except ValueError:
        raise SnapshotNotFound() from None


def object_name(version: int, saved_at: datetime) -> str:
    return f"{_VERSION_SPAN - version:019d}-{stamp(saved_at)}.json"


def _info_from_key(prefix: str, key: str, size: int) -> SnapshotInfo | None:
    match = _NAME_RE.fullmatch(key[len(prefix) :])
    if match is None:
        return None
    try:
        saved_at = parse_stamp(match.group(2))
    except ValueError:
        return None
    version = _VERSION_SPAN - int(match.group(1))
    return SnapshotInfo(snapshot_id(version, saved_at), version, saved_at, size)


@contextmanager
def _translate_errors(action: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    with METRICS.timed("snapshot"):
        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "NotFound"):
                raise SnapshotNotFound() from exc
            raise SnapshotsUnavailable(f"The snapshot store could not {action}.") from exc
        except BotoCoreError as exc:
            raise SnapshotsUnavailable(f"The snapshot store could not {action}.") from exc


class S3Snapshots:
    """Snapshots of project states in one bucket."""

    def __init__(self, client: S3ClientLike | None, bucket: str, *, timeout_ms: int = 3000) -> None:
        """``client`` ``None``: a boto3 client is built on first use (a cache hit never pays for it)."""
        self._given = client
        self._bucket = bucket
        self._timeout_ms = timeout_ms

    @cached_property
    def _client(self) -> S3ClientLike:
        if self._given is not None:
            return self._given
        client: S3ClientLike = make_s3_client(timeout_ms=self._timeout_ms)
        return client

    def put(self, prefix: str, version: int, saved_at: datetime, payload: bytes) -> SnapshotInfo:
        """Store one snapshot; ``payload`` is the JSON body ``{version, saved_at, state}``."""
        with _translate_errors("store the snapshot"):
            self._client.put_object(
                Bucket=self._bucket,
                Key=prefix + object_name(version, saved_at),
                Body=payload,
                ContentType="application/json",
            )
        return SnapshotInfo(snapshot_id(version, saved_at), version, saved_at, len(payload))

    def newest(self, prefix: str) -> SnapshotInfo | None:
        """The newest snapshot under ``prefix``: one request whatever the count."""
        page, _ = self.list(prefix, limit=1)
        return page[0] if page else None

    def list(
        self, prefix: str, *, limit: int, before: str | None = None
    ) -> tuple[list[SnapshotInfo], str | None]:
        """Up to ``limit`` snapshots newest first, older than ``before``; and the next cursor."""
        params: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix, "MaxKeys": limit}
        if before is not None:
            version, saved_at = parse_snapshot_id(before)
            params["StartAfter"] = prefix + object_name(version, saved_at)
        with _translate_errors("list snapshots"):
            response = self._client.list_objects_v2(**params)
        items = [
            info
            for obj in response.get("Contents", [])
            if (info := _info_from_key(prefix, obj["Key"], int(obj.get("Size", 0)))) is not None
        ]
        more = bool(response.get("IsTruncated")) and bool(items)
        return items, (items[-1].id if more else None)

    def get(self, prefix: str, snapshot: str) -> bytes:
        """The body of one snapshot by id; :class:`SnapshotNotFound` if there is none."""
        version, saved_at = parse_snapshot_id(snapshot)
        with _translate_errors("read the snapshot"):
            response = self._client.get_object(
                Bucket=self._bucket, Key=prefix + object_name(version, saved_at)
            )
            body: bytes = response["Body"].read()
        return body

    def ping(self) -> bool:
        """One listing of at most one key under the snapshot root (the only access health needs)."""
        with _translate_errors("answer"):
            self._client.list_objects_v2(Bucket=self._bucket, Prefix=f"{SNAPSHOT_ROOT}/", MaxKeys=1)
        return True


def make_s3_client(*, timeout_ms: int) -> Any:
    """A boto3 S3 client with explicit timeouts.

    The endpoint comes from the standard ``AWS_ENDPOINT_URL_S3`` /
    ``AWS_ENDPOINT_URL`` variables, which boto3 reads itself (MinIO,
    LocalStack, SeaweedFS), so nothing here depends on them.
    """
    import boto3
    from botocore.config import Config

    timeout = timeout_ms / 1000
    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    return boto3.session.Session().client("s3", config=config)
