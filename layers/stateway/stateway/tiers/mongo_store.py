"""The durable MongoDB tier: collections ``sessions`` and ``project_states``.

Every write is one atomic server-side operation (no read-modify-write of a
whole document): create-if-absent with ``$setOnInsert``, one key with
``$set state.<key>`` + ``$inc version``, navigation with ``$push``/``$each``/
``$slice``, and whole project states with an optional expected version in the
filter. Every client error becomes :class:`~stateway.errors.StoreUnavailable`;
"no document" is ``None``, never an error, so the two can never be confused.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from stateway.errors import PayloadTooLarge, PreconditionFailed, SessionNotFound, StoreUnavailable

SESSIONS = "sessions"
PROJECT_STATES = "project_states"


class CollectionLike(Protocol):
    """The part of ``pymongo.collection.Collection`` this tier uses."""

    def find_one(self, filter: Any, *args: Any, **kwargs: Any) -> Any: ...
    def find(self, *args: Any, **kwargs: Any) -> Any: ...
    def find_one_and_update(self, filter: Any, update: Any, *args: Any, **kwargs: Any) -> Any: ...
    def insert_one(self, document: Any, *args: Any, **kwargs: Any) -> Any: ...
    def delete_one(self, filter: Any, *args: Any, **kwargs: Any) -> Any: ...
    def delete_many(self, filter: Any, *args: Any, **kwargs: Any) -> Any: ...
    def create_index(self, keys: Any, **kwargs: Any) -> Any: ...


class DatabaseLike(Protocol):
    """The part of ``pymongo.database.Database`` this tier uses."""

    def __getitem__(self, name: str) -> Any: ...
    def command(self, command: Any, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class StoredSession:
    session_id: str
    state: dict[str, Any]
    version: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SessionSummary:
    session_id: str
    app_id: str
    project_id: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredProject:
    state: dict[str, Any]
    version: int
    saved_at: datetime


@contextmanager
def _translate_errors(action: str) -> Iterator[None]:
    from pymongo.errors import PyMongoError

    try:
        yield
    except PyMongoError as exc:
        raise StoreUnavailable(f"The durable store could not {action}.") from exc


def _session(doc: Mapping[str, Any]) -> StoredSession:
    return StoredSession(doc["_id"], doc["state"], int(doc["version"]), doc["updated_at"])


def _size_guard(field_path: str, added_bytes: int, max_bytes: int) -> dict[str, Any]:
    """A ``$expr`` that holds when the state stays within ``max_bytes`` after the write.

    The store measures BSON; ``added_bytes`` is the new value's size. The old
    value of the same key is subtracted, so replacing a value is judged by the
    size it leaves behind.
    """
    return {
        "$lte": [
            {
                "$subtract": [
                    {"$add": [{"$bsonSize": "$state"}, added_bytes]},
                    {"$bsonSize": {"v": f"${field_path}"}},
                ]
            },
            max_bytes,
        ]
    }


class MongoStore:
    """Sessions and project states in one MongoDB database."""

    def __init__(self, db: DatabaseLike) -> None:
        self._db = db
        self._sessions: CollectionLike = db[SESSIONS]
        self._projects: CollectionLike = db[PROJECT_STATES]

    def ensure_indexes(self) -> None:
        """Create the indexes the queries need (idempotent)."""
        with _translate_errors("create indexes"):
            self._sessions.create_index(
                [("client_id", 1), ("user_id", 1), ("updated_at", -1)], name="namespace_updated"
            )

    def ping(self) -> bool:
        with _translate_errors("answer"):
            self._db.command("ping")
        return True

    # sessions ----------------------------------------------------------------

    def get_session(self, session_id: str) -> StoredSession | None:
        with _translate_errors("read the session"):
            doc = self._sessions.find_one({"_id": session_id})
        return None if doc is None else _session(doc)

    def create_session(
        self,
        session_id: str,
        *,
        client_id: str,
        user_id: str,
        app_id: str,
        project_id: str,
        state: dict[str, Any],
        now: datetime,
    ) -> tuple[StoredSession, bool]:
        """Insert the session unless it exists; return the stored session and whether this call created it.

        Concurrent calls create it once. The unique ``_id`` index decides the
        winner: an insert that loses raises DuplicateKeyError and reads the
        winner's document. (An upsert with ``$setOnInsert`` is equivalent on
        MongoDB, but not every MongoDB-protocol server serializes concurrent
        upserts; every one honours the unique ``_id``.)
        """
        from pymongo.errors import DuplicateKeyError

        doc = {
            "_id": session_id,
            "client_id": client_id,
            "user_id": user_id,
            "app_id": app_id,
            "project_id": project_id,
            "state": state,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        with _translate_errors("create the session"):
            existing = self._sessions.find_one({"_id": session_id})
            if existing is None:
                try:
                    self._sessions.insert_one(doc)
                except DuplicateKeyError:
                    existing = self._sessions.find_one({"_id": session_id})
        if existing is None:
            return StoredSession(session_id, state, 1, now), True
        return _session(existing), False

    def set_session_key(
        self,
        session_id: str,
        key: str,
        value: Any,
        *,
        value_bytes: int,
        max_bytes: int,
        expected_version: int | None,
        now: datetime,
    ) -> StoredSession:
        """Set ``state.<key>`` and bump the version in one atomic update."""
        return self._update_session(
            session_id,
            {"$set": {f"state.{key}": value, "updated_at": now}, "$inc": {"version": 1}},
            guard=_size_guard(f"state.{key}", value_bytes, max_bytes),
            expected_version=expected_version,
        )

    def push_navigation(
        self,
        session_id: str,
        entry: dict[str, Any],
        *,
        limit: int,
        entry_bytes: int,
        max_bytes: int,
        expected_version: int | None,
        now: datetime,
    ) -> StoredSession:
        """Append ``entry`` to ``state.navigation``, keeping the newest ``limit`` entries."""
        return self._update_session(
            session_id,
            {
                "$push": {"state.navigation": {"$each": [entry], "$slice": -limit}},
                "$set": {"updated_at": now},
                "$inc": {"version": 1},
            },
            # Appending never frees space (trimming aside), so nothing is subtracted.
            guard=_size_guard("state.__stateway_absent__", entry_bytes, max_bytes),
            expected_version=expected_version,
        )

    def _update_session(
        self,
        session_id: str,
        update: dict[str, Any],
        *,
        guard: dict[str, Any],
        expected_version: int | None,
    ) -> StoredSession:
        from pymongo import ReturnDocument

        flt: dict[str, Any] = {"_id": session_id, "$expr": guard}
        if expected_version is not None:
            flt["version"] = expected_version
        with _translate_errors("update the session"):
            doc = self._sessions.find_one_and_update(flt, update, return_document=ReturnDocument.AFTER)
            if doc is not None:
                return _session(doc)
            # No match: tell apart "absent", "stale version" and "too large" (failure path only).
            current = self._sessions.find_one({"_id": session_id}, {"version": 1})
        if current is None:
            raise SessionNotFound()
        if expected_version is not None and int(current["version"]) != expected_version:
            raise PreconditionFailed(current_version=int(current["version"]))
        raise PayloadTooLarge()

    def delete_session(self, session_id: str) -> bool:
        with _translate_errors("delete the session"):
            return bool(self._sessions.delete_one({"_id": session_id}).deleted_count)

    def list_sessions(self, client_id: str, user_id: str) -> list[SessionSummary]:
        """A user's sessions within a client, newest ``updated_at`` first (the durable namespace)."""
        with _translate_errors("list sessions"):
            docs = list(
                self._sessions.find(
                    {"client_id": client_id, "user_id": user_id},
                    {"app_id": 1, "project_id": 1, "updated_at": 1},
                ).sort("updated_at", -1)
            )
        return [SessionSummary(d["_id"], d["app_id"], d["project_id"], d["updated_at"]) for d in docs]

    def delete_sessions(self, client_id: str, user_id: str) -> list[str]:
        """Delete every session of a user within a client; return their ids."""
        with _translate_errors("delete sessions"):
            ids = [
                d["_id"]
                for d in self._sessions.find({"client_id": client_id, "user_id": user_id}, {"_id": 1})
            ]
            if ids:
                self._sessions.delete_many({"_id": {"$in": ids}})
        return ids

    # project states ------------------------------------------------------------

    def get_project(self, store_id: str) -> StoredProject | None:
        with _translate_errors("read the project state"):
            doc = self._projects.find_one({"_id": store_id})
        if doc is None:
            return None
        return StoredProject(doc["state"], int(doc["version"]), doc["saved_at"])

    def save_project(
        self,
        store_id: str,
        state: dict[str, Any],
        *,
        ids: Mapping[str, str],
        expected_version: int | None,
        now: datetime,
    ) -> StoredProject:
        """Replace a project's state, bumping its version, in one atomic upsert.

        With ``expected_version``, the write happens only when the stored
        version equals it (``0`` means "must not exist yet"); otherwise
        :class:`PreconditionFailed`.
        """
        from pymongo import ReturnDocument
        from pymongo.errors import DuplicateKeyError

        flt: dict[str, Any] = {"_id": store_id}
        if expected_version is not None:
            flt["version"] = expected_version
        update = {"$set": {"state": state, "saved_at": now, **ids}, "$inc": {"version": 1}}
        with _translate_errors("save the project state"):
            if expected_version != 0:
                doc = self._projects.find_one_and_update(flt, update, return_document=ReturnDocument.AFTER)
                if doc is not None:
                    return StoredProject(doc["state"], int(doc["version"]), doc["saved_at"])
            if expected_version in (None, 0):
                # A first save: the unique _id decides between racing first saves.
                try:
                    self._projects.insert_one(
                        {"_id": store_id, "state": state, "saved_at": now, "version": 1, **ids}
                    )
                    return StoredProject(state, 1, now)
                except DuplicateKeyError:
                    if expected_version is None:
                        return self.save_project(store_id, state, ids=ids, expected_version=None, now=now)
            current = self._projects.find_one({"_id": store_id}, {"version": 1})
        raise PreconditionFailed(current_version=None if current is None else int(current["version"]))

    def raise_project_version(self, store_id: str, *, from_version: int, to_version: int) -> int:
        """Lift a just-created document's version above older snapshots; return the version it has."""
        from pymongo import ReturnDocument

        with _translate_errors("save the project state"):
            doc = self._projects.find_one_and_update(
                {"_id": store_id, "version": from_version},
                {"$set": {"version": to_version}},
                return_document=ReturnDocument.AFTER,
            )
        return from_version if doc is None else int(doc["version"])

    def put_project_if_absent(
        self,
        store_id: str,
        state: dict[str, Any],
        *,
        version: int,
        saved_at: datetime,
        ids: Mapping[str, str],
    ) -> None:
        """Rebuild a missing project document (from a snapshot) without touching a newer one."""
        with _translate_errors("restore the project state"):
            self._projects.find_one_and_update(
                {"_id": store_id},
                {"$setOnInsert": {"state": state, "version": version, "saved_at": saved_at, **ids}},
                upsert=True,
            )
