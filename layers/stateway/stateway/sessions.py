"""User sessions over the tiers: init, state, update, end, list.

The rules of a session document over the tiers (:mod:`stateway.tiered`):
reads go cache -> store -> new defaults; writes store, then cache. A session
entry's TTL slides with each read; each cached session is a member of its
user's namespace set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stateway import documents
from stateway.clock import Clock, epoch_ms, utcnow
from stateway.commands import AddNavigation, EndSessions, UpdateSession, UserSessions
from stateway.config import Settings
from stateway.errors import InvalidState
from stateway.ids import SessionRef, namespace_key, validate_key
from stateway.metrics import METRICS, Metrics
from stateway.tiered import Found, Slower, Source, Tiered
from stateway.tiers.mongo_store import MongoStore, SessionSummary, StoredSession
from stateway.tiers.redis_cache import Entry, RedisCache


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
        self._metrics = metrics
        self._tiers = Tiered(
            cache,
            metrics,
            ttl=settings.session_ttl,
            sliding=True,
            verify=settings.cache_verify_seconds,
            clock=clock,
        )
        self._settings = settings
        self._clock = clock

    # reads ---------------------------------------------------------------------

    def init(self, ref: SessionRef, env: dict[str, Any] | None = None) -> InitResult:
        """The store's session, else created from defaults (once); the cache is refreshed.

        The store is always asked (find-or-insert), so that an init never reports a session
        the store does not hold; only when the store cannot answer does a cached copy answer.
        Raises StoreUnavailable when the store cannot answer and the cache has nothing.
        """
        found = self._read(ref, lambda: self._create(ref, env), verify=True)
        state = documents.loads(found.entry.payload)
        return InitResult(
            ref.session_id, ref.namespace, state, found.entry.version, found.source == "default"
        )

    def state(self, ref: SessionRef) -> SessionState:
        """The session's state from the fastest tier that has it, else new defaults."""
        found = self._read(ref, lambda: self._stored(ref), lambda: self._create(ref, None))
        return SessionState(ref.session_id, found.entry.payload, found.entry.version, found.source)

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
        size = len(documents.encoded_within(value, self._settings.max_state_bytes, what="value"))
        guard = self._guard(expected_version)
        return self._write(
            ref, lambda: self._store.set_session_key(ref.session_id, key, value, value_bytes=size, **guard)
        )

    def add_navigation(
        self, ref: SessionRef, entry: dict[str, Any], *, expected_version: int | None = None
    ) -> SessionState:
        """Append one navigation entry, keeping the newest ``STATEWAY_NAVIGATION_LIMIT``."""
        if not isinstance(entry, dict):
            raise InvalidState("navigation must be an object.")
        size = len(documents.encoded_within(entry, self._settings.max_state_bytes, what="navigation"))
        limit, guard = self._settings.navigation_limit, self._guard(expected_version)
        return self._write(
            ref,
            lambda: self._store.push_navigation(
                ref.session_id, entry, limit=limit, entry_bytes=size, **guard
            ),
        )

    def update(self, command: UpdateSession) -> SessionState:
        """A key set, or a navigation entry added, as the request asked."""
        if isinstance(command, AddNavigation):
            return self.add_navigation(command.ref, command.entry, expected_version=command.expected_version)
        return self.update_key(
            command.ref, command.key, command.value, expected_version=command.expected_version
        )

    def end_sessions(self, command: EndSessions) -> None:
        """One session ended, or all of a user's within a client, as the request asked."""
        if isinstance(command, UserSessions):
            self.end_all(command.client_id, command.user_id)
        else:
            self.end(command.ref)

    def end(self, ref: SessionRef) -> None:
        """Remove the session from store, cache and namespace. Idempotent."""
        self._store.delete_session(ref.session_id)
        self._tiers.drop(ref.session_id, namespace=ref.namespace, members=(ref.session_id,))

    def end_all(self, client_id: str, user_id: str) -> list[str]:
        """End every session of a user within a client; return the ids that were stored."""
        namespace = namespace_key(client_id, user_id)
        ended = self._store.delete_sessions(client_id, user_id)
        cached = self._tiers.members(namespace)
        # One DEL per key (they live on different masters of a cluster); the set itself goes too.
        self._tiers.drop(*sorted(set(ended) | cached), namespace)
        return ended

    # the rules of the document ----------------------------------------------------

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

    def _guard(self, expected_version: int | None) -> dict[str, Any]:
        """What every session write is held to: the size limit, the expected version, the time."""
        return {
            "max_bytes": self._settings.max_state_bytes,
            "expected_version": expected_version,
            "now": self._clock(),
        }

    def _read(self, ref: SessionRef, *slower: Slower, verify: bool = False) -> Found:
        found = self._tiers.read(ref.session_id, *slower, member_of=ref.namespace, verify=verify)
        assert found is not None, "the last tier of a session read always answers"
        return found

    def _write(self, ref: SessionRef, commit: Callable[[], StoredSession]) -> SessionState:
        _, entry = self._tiers.write(ref.session_id, commit, _entry, member_of=ref.namespace)
        return SessionState(ref.session_id, entry.payload, entry.version, "store")

    def _stored(self, ref: SessionRef) -> Found | None:
        stored = self._store.get_session(ref.session_id)
        return None if stored is None else Found(_entry(stored), "store")

    def _create(self, ref: SessionRef, env: dict[str, Any] | None) -> Found:
        """Create the session from defaults unless it exists (then it is the store's)."""
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
        if created:
            self._metrics.incr("defaults_built")
        return Found(_entry(stored), "default" if created else "store")


def _entry(stored: StoredSession) -> Entry:
    # The generation: a session ended and created again is a new document, whose versions
    # restart at 1; its creation time orders it after any copy of the one before.
    generation = 0 if stored.created_at is None else epoch_ms(stored.created_at)
    return Entry(stored.version, documents.dumps(stored.state), generation)
