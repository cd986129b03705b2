"""Project state over the tiers: save, load, snapshot history, restore.

The rules of a project document over the tiers (:mod:`stateway.tiered`):

* save: store, cache, then a snapshot whose outcome is reported in the result
  (``status: "failed"`` when the snapshots could not be written);
* load: cache -> store -> newest snapshot; a state found only in a snapshot
  is put back in the store (unless a save got there first) and the cache;
* versions keep counting across an emptied store: a project's first stored
  version continues from its newest snapshot, so snapshot order is save order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from stateway import documents
from stateway.clock import Clock, isoformat, parse_isoformat, utcnow
from stateway.commands import PAGE_DEFAULT
from stateway.config import Settings
from stateway.errors import InvalidState, ProjectNotFound
from stateway.ids import ProjectRef
from stateway.metrics import METRICS, Metrics
from stateway.tiered import Found, Source, Tiered
from stateway.tiers.mongo_store import MongoStore
from stateway.tiers.redis_cache import Entry, RedisCache
from stateway.tiers.s3_snapshots import S3Snapshots, SnapshotInfo

SnapshotStatus = Literal["ok", "failed"]


@dataclass(frozen=True, slots=True)
class SaveResult:
    version: int
    saved_at: datetime
    snapshot_id: str | None
    snapshot_status: SnapshotStatus


@dataclass(frozen=True, slots=True)
class ProjectState:
    state: dict[str, Any]
    version: int
    saved_at: datetime
    source: Source


@dataclass(frozen=True, slots=True)
class SnapshotPage:
    snapshots: list[SnapshotInfo]
    next: str | None


class ProjectService:
    """The project-state operations of the contract."""

    def __init__(
        self,
        store: MongoStore,
        cache: RedisCache,
        snapshots: S3Snapshots,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        metrics: Metrics = METRICS,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._tiers = Tiered(
            cache, metrics, ttl=settings.project_ttl, verify=settings.cache_verify_seconds, clock=clock
        )
        self._snapshots = snapshots
        self._settings = settings
        self._clock = clock

    def save(self, ref: ProjectRef, state: Any, *, expected_version: int | None = None) -> SaveResult:
        """Save a new version: store, cache, snapshot.

        Raises InvalidState, PayloadTooLarge, PreconditionFailed, StoreUnavailable.
        """
        if not isinstance(state, dict):
            raise InvalidState("state must be an object.")
        documents.encoded_within(state, self._settings.max_state_bytes)

        def commit() -> tuple[int, datetime]:
            stored = self._store.save_project(
                ref.store_id, state, ids=_ids(ref), expected_version=expected_version, now=self._clock()
            )
            version = stored.version if stored.version > 1 else self._continue_after_snapshots(ref)
            return version, stored.saved_at

        (version, saved_at), _ = self._tiers.write(ref.cache_key, commit, lambda vs: _entry(state, *vs))
        body = documents.dumps({"version": version, "saved_at": isoformat(saved_at), "state": state})
        info = self._tiers.best_effort(
            "write", lambda: self._snapshots.put(ref.snapshot_prefix, version, saved_at, body)
        )
        if info is None:
            return SaveResult(version, saved_at, None, "failed")
        return SaveResult(version, saved_at, info.id, "ok")

    def load(self, ref: ProjectRef) -> ProjectState:
        """The project's state from cache, store or newest snapshot; ProjectNotFound if none has it."""
        found = self._tiers.read(ref.cache_key, lambda: self._stored(ref), lambda: self._from_snapshot(ref))
        if found is None:
            raise ProjectNotFound()
        body = documents.loads(found.entry.payload)
        return ProjectState(
            body["state"], found.entry.version, parse_isoformat(body["saved_at"]), found.source
        )

    def snapshots(
        self, ref: ProjectRef, *, limit: int = PAGE_DEFAULT, before: str | None = None
    ) -> SnapshotPage:
        """Snapshot history newest first, ``limit`` at a time, older than the ``before`` cursor."""
        items, cursor = self._snapshots.list(ref.snapshot_prefix, limit=limit, before=before)
        return SnapshotPage(items, cursor)

    def restore(
        self, ref: ProjectRef, snapshot_id: str, *, expected_version: int | None = None
    ) -> SaveResult:
        """Save the snapshot's state as a new version. Raises SnapshotNotFound, and as save."""
        state, _, _ = self._read_snapshot(ref, snapshot_id)
        return self.save(ref, state, expected_version=expected_version)

    # the rules of the document ----------------------------------------------------

    def _stored(self, ref: ProjectRef) -> Found | None:
        stored = self._store.get_project(ref.store_id)
        if stored is None:
            return None
        return Found(_entry(stored.state, stored.version, stored.saved_at), "store")

    def _from_snapshot(self, ref: ProjectRef) -> Found | None:
        newest = self._snapshots.newest(ref.snapshot_prefix)
        if newest is None:
            return None
        state, version, saved_at = self._read_snapshot(ref, newest.id)
        self._store.put_project_if_absent(
            ref.store_id, state, version=version, saved_at=saved_at, ids=_ids(ref)
        )
        self._metrics.incr("snapshot_rebuild")
        return Found(_entry(state, version, saved_at), "snapshot")

    def _continue_after_snapshots(self, ref: ProjectRef) -> int:
        # A first version in the store while older snapshots exist (the store was
        # emptied): keep counting from the newest snapshot. One listing, only on a
        # project's first save; without the snapshots, counting starts again at 1.
        newest = self._tiers.best_effort("read", lambda: self._snapshots.newest(ref.snapshot_prefix))
        if newest is None or newest.version < 1:
            return 1
        return self._store.raise_project_version(ref.store_id, from_version=1, to_version=newest.version + 1)

    def _read_snapshot(self, ref: ProjectRef, snapshot_id: str) -> tuple[dict[str, Any], int, datetime]:
        body = documents.loads(self._snapshots.get(ref.snapshot_prefix, snapshot_id))
        return body["state"], int(body["version"]), parse_isoformat(body["saved_at"])


def _ids(ref: ProjectRef) -> dict[str, str]:
    return {"client_id": ref.client_id, "app_id": ref.app_id, "project_id": ref.project_id}


def _entry(state: dict[str, Any], version: int, saved_at: datetime) -> Entry:
    return Entry(version, documents.dumps({"saved_at": isoformat(saved_at), "state": state}))
