"""Project state over the tiers: save, load, snapshot history, restore.

* save: store first (its failure fails the save), then the cache (best
  effort), then a snapshot (a failure is reported in the result as
  ``status: "failed"``, logged and counted, never raised);
* load: cache -> store -> newest snapshot, rebuilding store and cache from a
  snapshot when that is where the state was found.

A store that cannot answer is :class:`~stateway.errors.StoreUnavailable`, never
"not found", so an older snapshot is never served over a newer stored state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from stateway import documents
from stateway.clock import Clock, isoformat, parse_isoformat, utcnow
from stateway.config import Settings
from stateway.errors import InvalidState, ProjectNotFound, SnapshotsUnavailable
from stateway.guarded_cache import GuardedCache
from stateway.ids import ProjectRef
from stateway.metrics import METRICS, Metrics
from stateway.tiers.mongo_store import MongoStore
from stateway.tiers.redis_cache import RedisCache
from stateway.tiers.s3_snapshots import S3Snapshots, SnapshotInfo

logger = logging.getLogger("stateway.projects")

Source = Literal["cache", "store", "snapshot"]
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


MAX_PAGE = 100


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
        self._cache = GuardedCache(cache, metrics)
        self._snapshots = snapshots
        self._settings = settings
        self._clock = clock
        self._metrics = metrics

    def save(self, ref: ProjectRef, state: Any, *, expected_version: int | None = None) -> SaveResult:
        """Save a new version: store, cache, snapshot.

        Raises InvalidState, PayloadTooLarge, PreconditionFailed, StoreUnavailable.
        """
        if not isinstance(state, dict):
            raise InvalidState("state must be an object.")
        documents.encoded_within(state, self._settings.max_state_bytes)
        stored = self._store.save_project(
            ref.store_id, state, ids=self._ids(ref), expected_version=expected_version, now=self._clock()
        )
        version = stored.version
        if version == 1:
            version = self._continue_after_snapshots(ref, version)
        self._cache_put(ref, state, version, stored.saved_at)
        return self._snapshot(ref, state, version, stored.saved_at)

    def load(self, ref: ProjectRef) -> ProjectState:
        """The project's state from cache, store or newest snapshot; ProjectNotFound if none has it."""
        cached = self._cache_get(ref)
        if cached is not None:
            return cached
        stored = self._store.get_project(ref.store_id)
        if stored is not None:
            self._cache_put(ref, stored.state, stored.version, stored.saved_at)
            return ProjectState(stored.state, stored.version, stored.saved_at, "store")
        newest = self._snapshots.newest(ref.snapshot_prefix)
        if newest is None:
            raise ProjectNotFound()
        state, version, saved_at = self._read_snapshot(ref, newest.id)
        self._store.put_project_if_absent(
            ref.store_id, state, version=version, saved_at=saved_at, ids=self._ids(ref)
        )
        self._cache_put(ref, state, version, saved_at)
        return ProjectState(state, version, saved_at, "snapshot")

    def snapshots(self, ref: ProjectRef, *, limit: int = 20, before: str | None = None) -> SnapshotPage:
        """Snapshot history newest first, ``limit`` at a time, older than the ``before`` cursor."""
        limit = max(1, min(limit, MAX_PAGE))
        items, cursor = self._snapshots.list(ref.snapshot_prefix, limit=limit, before=before)
        return SnapshotPage(items, cursor)

    def restore(
        self, ref: ProjectRef, snapshot_id: str, *, expected_version: int | None = None
    ) -> SaveResult:
        """Save the snapshot's state as a new version. Raises SnapshotNotFound, and as save."""
        state, _, _ = self._read_snapshot(ref, snapshot_id)
        return self.save(ref, state, expected_version=expected_version)

    # helpers -------------------------------------------------------------------

    @staticmethod
    def _ids(ref: ProjectRef) -> dict[str, str]:
        return {"client_id": ref.client_id, "app_id": ref.app_id, "project_id": ref.project_id}

    def _continue_after_snapshots(self, ref: ProjectRef, version: int) -> int:
        # A first version in the store while older snapshots exist (the store was
        # emptied): keep counting from the newest snapshot so that snapshot order
        # stays save order. One listing, only on a project's first save.
        try:
            newest = self._snapshots.newest(ref.snapshot_prefix)
        except SnapshotsUnavailable:
            self._metrics.incr("snapshot_lookup_failures")
            return version
        if newest is None or newest.version < version:
            return version
        return self._store.raise_project_version(
            ref.store_id, from_version=version, to_version=newest.version + 1
        )

    def _read_snapshot(self, ref: ProjectRef, snapshot_id: str) -> tuple[dict[str, Any], int, datetime]:
        body = documents.loads(self._snapshots.get(ref.snapshot_prefix, snapshot_id))
        return body["state"], int(body["version"]), parse_isoformat(body["saved_at"])

    def _snapshot(
        self, ref: ProjectRef, state: dict[str, Any], version: int, saved_at: datetime
    ) -> SaveResult:
        body = documents.dumps({"version": version, "saved_at": isoformat(saved_at), "state": state})
        try:
            info = self._snapshots.put(ref.snapshot_prefix, version, saved_at, body)
        except SnapshotsUnavailable:
            logger.warning("snapshot of %s version %d failed", ref.cache_key, version, exc_info=True)
            self._metrics.incr("snapshot_failures")
            return SaveResult(version, saved_at, None, "failed")
        return SaveResult(version, saved_at, info.id, "ok")

    def _cache_get(self, ref: ProjectRef) -> ProjectState | None:
        entry = self._cache.get(ref.cache_key)
        if entry is None:
            return None
        body = documents.loads(entry.payload)
        return ProjectState(body["state"], entry.version, parse_isoformat(body["saved_at"]), "cache")

    def _cache_put(self, ref: ProjectRef, state: dict[str, Any], version: int, saved_at: datetime) -> None:
        payload = documents.dumps({"saved_at": isoformat(saved_at), "state": state})
        self._cache.put(ref.cache_key, version, payload, self._settings.project_ttl)
