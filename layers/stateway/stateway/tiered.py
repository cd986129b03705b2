"""The tiers in the one order Stateway uses them, and what the failure of each costs.

* **Read**: the cache, then each slower tier in turn (the store, then a
  fallback: a session's defaults, a project's newest snapshot). The first
  that has the document answers, and the cache is refilled on the way back.
* **Write**: the store first; its failure fails the operation and nothing
  else is touched. Then the cache, best effort; then, for a project, a
  snapshot, best effort, its outcome reported to the caller.
* **Outages** (:class:`~stateway.errors.Unavailable`) of the cache and of the
  snapshots are served around: a cache that cannot answer is a miss or a
  skipped step, a snapshot that cannot be written is reported as failed. A
  store outage is never served around (it is raised), so defaults or an older
  snapshot never stand in for data the store may hold.
* **Bugs** (:class:`~stateway.errors.BackendBug`: a script error,
  ``WRONGTYPE``, an operator the server does not know) are never taken for an
  outage nor a miss: reads and deletes raise them. A cache write that fails so
  comes after the store committed; it is logged at ERROR and the key dropped,
  so that no older entry is served in place of what was written.

Every failure is logged and counted once, here, as ``<tier>_<action>_<kind>``:
tier ``cache`` or ``snapshot``, action ``read``, ``write`` or ``delete``, kind
``unavailable`` or ``bug`` (``cache_write_unavailable``, ``cache_read_bug``,
``snapshot_write_unavailable``...).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from stateway.errors import CacheBug, CacheUnavailable, SnapshotsUnavailable
from stateway.metrics import Metrics
from stateway.tiers.redis_cache import Entry, RedisCache

logger = logging.getLogger("stateway.tiers")

Source = Literal["cache", "store", "snapshot", "default"]
Action = Literal["read", "write", "delete"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Found:
    """A document (compact JSON and its version) and the tier that had it."""

    entry: Entry
    source: Source


#: A tier slower than the cache: the document it holds, or None when it has none.
Slower = Callable[[], Found | None]


class Tiered:
    """One kind of document in the cache (entries of ``ttl`` seconds) in front of slower tiers."""

    def __init__(self, cache: RedisCache, metrics: Metrics, *, ttl: int, sliding: bool = False) -> None:
        self._cache = cache
        self._metrics = metrics
        self._ttl = ttl
        self._slide = ttl if sliding else None

    def read(self, key: str, *slower: Slower, member_of: str | None = None) -> Found | None:
        """The document from the first tier that has it, refilling the cache; None if none has it.

        ``member_of`` names the cached set the key belongs to (a user's namespace).
        """
        try:
            entry = self._cache.get(key, slide_ttl=self._slide)
        except CacheUnavailable:
            self._served_around("cache", "read")
            entry = None
        except CacheBug:
            self._metrics.incr("cache_read_bug")
            raise
        if entry is not None:
            return Found(entry, "cache")
        for tier in slower:
            found = tier()
            if found is not None:
                self.fill(key, found.entry, member_of=member_of)
                return found
        return None

    def write(
        self,
        key: str,
        commit: Callable[[], T],
        entry_of: Callable[[T], Entry],
        *,
        member_of: str | None = None,
    ) -> tuple[T, Entry]:
        """Commit to the store (``commit``: its failure is the operation's), then cache what it committed."""
        committed = commit()
        entry = entry_of(committed)
        self.fill(key, entry, member_of=member_of)
        return committed, entry

    def fill(self, key: str, entry: Entry, *, member_of: str | None = None) -> None:
        """Cache a version the store holds (unless a newer one is cached); never raises."""
        try:
            self._cache.put(key, entry.version, entry.payload, self._ttl, namespace=member_of, member=key)
        except CacheUnavailable:
            self._served_around("cache", "write")
        except CacheBug:
            self._metrics.incr("cache_write_bug")
            logger.error("cache write of %s version %d failed: a bug", key, entry.version, exc_info=True)
            try:
                self._cache.delete(key)
            except (CacheUnavailable, CacheBug):
                logger.error("cache entry %s could not be dropped after a failed write", key, exc_info=True)

    def drop(self, *keys: str, namespace: str | None = None, members: tuple[str, ...] = ()) -> None:
        """Delete cached keys (and namespace members) after the store let them go. Raises CacheBug."""
        try:
            self._cache.delete(*keys, namespace=namespace, members=members)
        except CacheUnavailable:
            self._served_around("cache", "delete")
        except CacheBug:
            self._metrics.incr("cache_delete_bug")
            raise

    def members(self, namespace: str) -> set[str]:
        """The cached set ``namespace``; empty when the cache cannot answer. Raises CacheBug."""
        try:
            return self._cache.namespace_members(namespace)
        except CacheUnavailable:
            self._served_around("cache", "read")
            return set()
        except CacheBug:
            self._metrics.incr("cache_read_bug")
            raise

    def best_effort(self, action: Action, step: Callable[[], T]) -> T | None:
        """A snapshot step the operation does not depend on: None when the snapshots cannot answer."""
        try:
            return step()
        except SnapshotsUnavailable:
            self._served_around("snapshot", action)
            return None

    def _served_around(self, tier: str, action: Action) -> None:
        logger.warning("%s %s failed; continuing without it", tier, action, exc_info=True)
        self._metrics.incr(f"{tier}_{action}_unavailable")
