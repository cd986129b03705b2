"""The cache as the services use it: an outage is served around, a bug is never hidden.

The cache is never the only copy of anything, so a cache that cannot answer
(:class:`~stateway.errors.CacheUnavailable`) is a miss on a read and a skipped
step on a write: logged at WARNING and counted as ``cache_<action>_unavailable``.

A cache that answers with an error that is a bug (:class:`~stateway.errors.CacheBug`:
a script error, ``WRONGTYPE``, ``CROSSSLOT``) is counted as ``cache_<action>_bug``
and is never taken for a miss: reads and deletes raise it (a 500 that is
logged with its traceback). A write that fails so comes after the store has
committed, so it does not fail the request; it is logged at ERROR with its
traceback and the key is deleted (best effort) so that no older entry is
served in place of what was written.
"""

from __future__ import annotations

import logging

from stateway.errors import CacheBug, CacheUnavailable
from stateway.metrics import Metrics
from stateway.tiers.redis_cache import CachedEntry, RedisCache

logger = logging.getLogger("stateway.cache")


class GuardedCache:
    def __init__(self, cache: RedisCache, metrics: Metrics) -> None:
        self._cache = cache
        self._metrics = metrics

    def get(self, key: str, *, slide_ttl: int | None = None) -> CachedEntry | None:
        """The entry, or None on a miss or an outage. Raises CacheBug."""
        try:
            return self._cache.get(key, slide_ttl=slide_ttl)
        except CacheUnavailable:
            self._unavailable("read")
            return None
        except CacheBug:
            self._metrics.incr("cache_read_bug")
            raise

    def put(
        self,
        key: str,
        version: int,
        payload: bytes,
        ttl: int,
        *,
        namespace: str | None = None,
        member: str | None = None,
    ) -> None:
        """Cache a version the store holds; never raises (see the module's docstring)."""
        try:
            self._cache.put(key, version, payload, ttl, namespace=namespace, member=member)
        except CacheUnavailable:
            self._unavailable("write")
        except CacheBug:
            self._metrics.incr("cache_write_bug")
            logger.error("cache write of %s version %d failed: a bug", key, version, exc_info=True)
            try:
                self._cache.delete(key)
            except (CacheUnavailable, CacheBug):
                logger.error("cache entry %s could not be dropped after a failed write", key, exc_info=True)

    def delete(self, *keys: str, namespace: str | None = None, members: tuple[str, ...] = ()) -> None:
        """Delete keys (and namespace members); an outage is counted. Raises CacheBug."""
        try:
            self._cache.delete(*keys, namespace=namespace, members=members)
        except CacheUnavailable:
            self._unavailable("delete")
        except CacheBug:
            self._metrics.incr("cache_delete_bug")
            raise

    def namespace_members(self, namespace: str) -> set[str]:
        """The cached namespace set; empty on an outage. Raises CacheBug."""
        try:
            return self._cache.namespace_members(namespace)
        except CacheUnavailable:
            self._unavailable("read")
            return set()
        except CacheBug:
            self._metrics.incr("cache_read_bug")
            raise

    def _unavailable(self, action: str) -> None:
        logger.warning("cache %s failed; continuing with the store", action, exc_info=True)
        self._metrics.incr(f"cache_{action}_unavailable")
