"""User sessions over the tiers: init, state, update, end, list.

Order, always:

* reads: cache -> store -> defaults; a tier that answers refills the faster
  ones on the way back;
* writes: store first (the only tier whose failure fails the operation), then
  the cache (a failure is logged and counted, never raised).

A store that cannot answer raises :class:`~stateway.errors.StoreUnavailable`;
it is never taken for "no session", so defaults are never built over real
data. A cache that cannot answer is a miss; a cache error that is a bug is
never one (see :mod:`stateway.guarded_cache`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from stateway import documents
from stateway.clock import Clock, utcnow
from stateway.config import Settings
from stateway.errors import InvalidState
from stateway.guarded_cache import GuardedCache
from stateway.ids import SessionRef, namespace_key, validate_key
from stateway.metrics import METRICS, Metrics
from stateway.tiers.mongo_store import MongoStore, SessionSummary, StoredSession
from stateway.tiers.redis_cache import RedisCache

Source = Literal["cache", "store", "default"]


@dataclass(frozen=True, slots=True)
class SessionState:
    session_id: str
    payload: bytes
    """The state as compact JSON, exactly as cached: a cache hit is never decoded to be re-encoded."""
    version: int
    source: Source

    @property
    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = documents.loads(self.payload)
        return state


@dataclass(frozen=True, slots=True)
class InitResult:
    session_id: str
    namespace: str
    state: dict[str, Any]
    version: int
    created: bool


@dataclass(frozen=True, slots=True)
class SessionList:
    namespace: str
    sessions: list[SessionSummary]


class SessionService:
    """The session operations of the contract."""

    def __init__(
        self,
        store: MongoStore,
        cache: RedisCache,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        metrics: Metrics = METRICS,
    ) -> None:
        self._store = store
        self._cache = GuardedCache(cache, metrics)
        self._settings = settings
        self._clock = clock

    # reads ---------------------------------------------------------------------

    def init(self, ref: SessionRef, env: dict[str, Any] | None = None) -> InitResult:
        """Load the session (cache, then store) or create it from defaults, once.

        Raises StoreUnavailable when the store cannot answer and the cache has nothing.
        """
        cached = self._cache_get(ref.session_id)
        if cached is not None:
            payload, version = cached
            return InitResult(ref.session_id, ref.namespace, documents.loads(payload), version, created=False)
        stored, _, created = self._create(ref, env)
        return InitResult(ref.session_id, ref.namespace, stored.state, stored.version, created)

    def state(self, ref: SessionRef) -> SessionState:
        """The session's state from the fastest tier that has it, else new defaults."""
        cached = self._cache_get(ref.session_id)
        if cached is not None:
            return SessionState(ref.session_id, cached[0], cached[1], "cache")
        stored = self._store.get_session(ref.session_id)
        if stored is not None:
            return SessionState(ref.session_id, self._cache_put(ref, stored), stored.version, "store")
        stored, payload, created = self._create(ref, None)
        return SessionState(ref.session_id, payload, stored.version, "default" if created else "store")

    def list_sessions(self, client_id: str, user_id: str) -> SessionList:
        """The user's sessions within a client (the durable namespace), newest first."""
        namespace = namespace_key(client_id, user_id)
        return SessionList(namespace, self._store.list_sessions(client_id, user_id))

    # writes --------------------------------------------------------------------

    def update_key(
        self, ref: SessionRef, key: str, value: Any, *, expected_version: int | None = None
    ) -> SessionState:
        """Set one top-level key atomically (store, then cache).

        Raises InvalidKey, InvalidState, PayloadTooLarge, SessionNotFound,
        PreconditionFailed, StoreUnavailable.
        """
        validate_key(key)
        if key == "navigation" and not (
            isinstance(value, list) and all(isinstance(item, dict) for item in value)
        ):
            raise InvalidState("navigation must be a list of objects.")
        payload = documents.encoded_within(value, self._settings.max_state_bytes, what="value")
        stored = self._store.set_session_key(
            ref.session_id,
            key,
            value,
            value_bytes=len(payload),
            max_bytes=self._settings.max_state_bytes,
            expected_version=expected_version,
            now=self._clock(),
        )
        return SessionState(ref.session_id, self._cache_put(ref, stored), stored.version, "store")

    def add_navigation(
        self, ref: SessionRef, entry: dict[str, Any], *, expected_version: int | None = None
    ) -> SessionState:
        """Append one navigation entry, keeping the newest ``STATEWAY_NAVIGATION_LIMIT``."""
        if not isinstance(entry, dict):
            raise InvalidState("navigation must be an object.")
        payload = documents.encoded_within(entry, self._settings.max_state_bytes, what="navigation")
        stored = self._store.push_navigation(
            ref.session_id,
            entry,
            limit=self._settings.navigation_limit,
            entry_bytes=len(payload),
            max_bytes=self._settings.max_state_bytes,
            expected_version=expected_version,
            now=self._clock(),
        )
        return SessionState(ref.session_id, self._cache_put(ref, stored), stored.version, "store")

    def end(self, ref: SessionRef) -> None:
        """Remove the session from store, cache and namespace. Idempotent."""
        self._store.delete_session(ref.session_id)
        self._cache.delete(ref.session_id, namespace=ref.namespace, members=(ref.session_id,))

    def end_all(self, client_id: str, user_id: str) -> list[str]:
        """End every session of a user within a client; return the ids that were stored."""
        namespace = namespace_key(client_id, user_id)
        ended = self._store.delete_sessions(client_id, user_id)
        cached = self._cache.namespace_members(namespace)
        # One DEL per key (they live on different masters of a cluster); the set itself goes too.
        self._cache.delete(*sorted(set(ended) | cached), namespace)
        return ended

    # helpers -------------------------------------------------------------------

    def default_state(self, ref: SessionRef, env: dict[str, Any] | None) -> dict[str, Any]:
        """``{"env": {ids..., **env}, "classifier_config": ..., "navigation": []}``; the ids win."""
        return {
            "env": {
                **(env or {}),
                "client_id": ref.client_id,
                "user_id": ref.user_id,
                "app_id": ref.app_id,
                "project_id": ref.project_id,
            },
            "classifier_config": dict(self._settings.classifier_config),
            "navigation": [],
        }

    def _create(self, ref: SessionRef, env: dict[str, Any] | None) -> tuple[StoredSession, bytes, bool]:
        """Create the session unless it exists; return it, its state as compact JSON, and whether it was created."""
        state = self.default_state(ref, env)
        documents.encoded_within(state, self._settings.max_state_bytes)
        stored, created = self._store.create_session(
            ref.session_id,
            client_id=ref.client_id,
            user_id=ref.user_id,
            app_id=ref.app_id,
            project_id=ref.project_id,
            state=state,
            now=self._clock(),
        )
        return stored, self._cache_put(ref, stored), created

    def _cache_get(self, session_id: str) -> tuple[bytes, int] | None:
        entry = self._cache.get(session_id, slide_ttl=self._settings.session_ttl)
        if entry is None:
            return None
        return entry.payload, entry.version

    def _cache_put(self, ref: SessionRef, stored: StoredSession) -> bytes:
        """Cache the stored state (best effort); return it as compact JSON."""
        payload = documents.dumps(stored.state)
        self._cache.put(
            ref.session_id,
            stored.version,
            payload,
            self._settings.session_ttl,
            namespace=ref.namespace,
            member=ref.session_id,
        )
        return payload
