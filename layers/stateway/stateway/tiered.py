"""The tiers in the one order Stateway uses them, and what the failure of each costs.

* **Read**: the cache, then each slower tier in turn (the store, then a
  fallback: a session's defaults, a project's newest snapshot). The first
  that has the document answers, and the cache is refilled on the way back.
* **Trust**: a cached entry answers alone (one round trip) for ``verify``
  seconds after the store last confirmed it (``STATEWAY_CACHE_VERIFY_SECONDS``,
  10). An older one is checked: read as a miss, the store's answer replaces it
  (even if the cached one is newer: the store is the truth, and a session
  ended and created again restarts its versions), and a store that no longer
  holds it removes it. So a cache step that failed (an outage, a partition,
  a write whose store outcome was unknown) leaves an older version readable
  for at most ``verify`` seconds once both tiers answer. A store that cannot
  answer the check is served around: the cached entry answers, and this
  process does not ask the store again for ``STORE_HOLDOFF`` seconds.
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
tier ``cache``, ``snapshot`` or ``store`` (only ``store_verify_unavailable``:
a check served around), action ``read``, ``write``, ``delete`` or ``verify``,
kind ``unavailable`` or ``bug`` (``cache_write_unavailable``,
``cache_read_bug``, ``snapshot_write_unavailable``...).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from stateway.clock import Clock, epoch_ms, utcnow
from stateway.errors import CacheBug, CacheUnavailable, SnapshotsUnavailable, StoreUnavailable
from stateway.metrics import Metrics
from stateway.tiers.redis_cache import Entry, RedisCache

logger = logging.getLogger("stateway.tiers")

Source = Literal["cache", "store", "snapshot", "default"]
Action = Literal["read", "write", "delete", "verify"]
#: Seconds a process serves cached entries unchecked after the store failed a check (a hung
#: store would otherwise cost every due check its full timeout).
STORE_HOLDOFF = 1.0
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

    def __init__(
        self,
        cache: RedisCache,
        metrics: Metrics,
        *,
        ttl: int,
        sliding: bool = False,
        verify: int = 10,
        clock: Clock = utcnow,
    ) -> None:
        self._cache = cache
        self._metrics = metrics
        self._ttl = ttl
        self._slide = ttl if sliding else None
        self._verify_ms = verify * 1000
        self._clock = clock
        self._holdoff_until = 0.0

    def read(
        self, key: str, *slower: Slower, member_of: str | None = None, verify: bool = False
    ) -> Found | None:
        """The document from the first tier that has it, refilling the cache; None if none has it.

        ``member_of`` names the cached set the key belongs to (a user's namespace).
        ``verify``: check a cached entry with the store however recent it is (init).
        """
        try:
            cached = self._cache.get(key, slide_ttl=self._slide)
        except CacheUnavailable:
            self._served_around("cache", "read")
            cached = None
        except CacheBug:
            self._metrics.incr("cache_read_bug")
            raise
        if cached is not None and not verify and self._trusted(cached):
            self._metrics.incr("cache_hit")
            return Found(cached, "cache")
        self._metrics.incr("cache_miss")
        for tier in slower:
            try:
                found = tier()
            except StoreUnavailable:
                if cached is None:
                    raise
                # The check could not be made: the cached entry answers, as on a store outage.
                self._holdoff_until = time.monotonic() + STORE_HOLDOFF
                self._served_around("store", "verify")
                return Found(cached, "cache")
            if found is not None:
                self.fill(key, found.entry, member_of=member_of, replacing=cached)
                return found
            if cached is not None:
                # The store no longer holds what the cache does (ended, or emptied).
                self._forget(key, cached)
                cached = None
        return None

    def _trusted(self, entry: Entry) -> bool:
        """Confirmed by the store within ``verify`` seconds, or the store just failed a check."""
        if time.monotonic() < self._holdoff_until:
            return True
        return epoch_ms(self._clock()) - entry.verified <= self._verify_ms

    def _forget(self, key: str, entry: Entry) -> None:
        try:
            self._cache.delete_unchanged(key, entry)
        except CacheUnavailable:
            self._served_around("cache", "delete")
        except CacheBug:
            self._metrics.incr("cache_delete_bug")
            raise

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

    def fill(
        self, key: str, entry: Entry, *, member_of: str | None = None, replacing: Entry | None = None
    ) -> None:
        """Cache a version the store holds, confirmed now (unless a newer one is cached); never raises.

        ``replacing``: the cached entry the store just contradicted, replaced even if newer.
        """
        try:
            self._cache.put(
                key,
                entry.version,
                entry.payload,
                self._ttl,
                namespace=member_of,
                member=key,
                generation=entry.generation,
                verified=epoch_ms(self._clock()),
                replacing=replacing,
            )
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
