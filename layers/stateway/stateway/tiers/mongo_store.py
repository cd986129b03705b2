"""The durable MongoDB tier: collections ``sessions`` and ``project_states``.

It sends only what MongoDB (5.0 or newer, Atlas included) and Amazon
DocumentDB 5.0 both support (``tests/documentdb/`` holds DocumentDB's lists
and a test holds the store to them): ``find``, ``insert``, ``findAndModify``,
``update``, ``delete`` and ``createIndexes`` with plain query operators
(``$lte``, ``$exists``, ``$in``) and update operators (``$set``, ``$inc``,
``$push`` with ``$each``/``$slice``, ``$setOnInsert``). No aggregation
expression, no ``$expr``, and no reliance on retryable writes (DocumentDB 5.0
has none): every write is safe to send again (create-once by ``_id``,
version and size guards in the filter).

Every session write is one atomic single-document update: one key with
``$set state.<key>`` + ``$inc version``, navigation with ``$push``/``$each``/
``$slice``. The size limit is enforced atomically too: each session document
keeps its members' sizes (``sizes``, compact JSON as ``documents.py`` measures
it), a write first reads them and then updates only if the key's size and the
running total are still what it judged (so concurrent writes of different keys
all land; a writer of the same key that lost the race judges again).

Client errors are sorted at this boundary: transient ones (no connection,
no server selected, a network timeout, not primary or stepped down, time limit
exceeded) are :class:`~stateway.errors.StoreUnavailable`; any other
(an operator the server does not know, a failed validation, a write error) is
:class:`~stateway.errors.StoreBug`. "No document" is ``None``, never an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from stateway import documents
from stateway.errors import (
    PayloadTooLarge,
    PreconditionFailed,
    SessionNotFound,
    StoreBug,
    StoreUnavailable,
    WriteConflict,
)

SESSIONS = "sessions"
PROJECT_STATES = "project_states"

#: A one-key write whose key keeps changing under it judges again this many times.
MAX_WRITE_ATTEMPTS = 16

# What a read returns of a session (the size bookkeeping stays in the store).
_SESSION_FIELDS = {"state": 1, "version": 1, "updated_at": 1}

# Server error codes of a transient condition (MongoDB's retryable error codes, and
# the time limits): HostUnreachable, HostNotFound, NetworkTimeout, ShutdownInProgress,
# PrimarySteppedDown, ExceededTimeLimit, SocketException, NotWritablePrimary,
# InterruptedAtShutdown, InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk,
# NotPrimaryOrSecondary, MaxTimeMSExpired, ReadConcernMajorityNotAvailableYet.
TRANSIENT_CODES = frozenset({6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 50, 134})


class CollectionLike(Protocol):
    """The part of ``pymongo.collection.Collection`` this tier uses."""

    def find_one(self, filter: Any, *args: Any, **kwargs: Any) -> Any: ...
    def find(self, *args: Any, **kwargs: Any) -> Any: ...
    def find_one_and_update(self, filter: Any, update: Any, *args: Any, **kwargs: Any) -> Any: ...
    def update_one(self, filter: Any, update: Any, *args: Any, **kwargs: Any) -> Any: ...
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


def is_transient(exc: BaseException) -> bool:
    """Whether a pymongo error is an outage (503, try again) rather than a bug."""
    from pymongo.errors import (
        ConfigurationError,
        ConnectionFailure,
        ExecutionTimeout,
        OperationFailure,
        PyMongoError,
        WTimeoutError,
    )

    if isinstance(exc, ConnectionFailure | ExecutionTimeout | WTimeoutError):
        return True
    if isinstance(exc, OperationFailure) and exc.code in TRANSIENT_CODES:
        return True
    if isinstance(exc, PyMongoError) and exc.has_error_label("RetryableWriteError"):
        return True
    # A mongodb+srv URI is resolved when the client is built: a failed DNS lookup is an
    # outage of name service (or of the cluster's records), not a malformed setting.
    if isinstance(exc, ConfigurationError):
        cause = exc.__cause__
        return cause is not None and (type(cause).__module__.startswith("dns.") or isinstance(cause, OSError))
    return False


def translate(exc: BaseException, action: str) -> StoreUnavailable | StoreBug:
    """The Stateway error for a pymongo error (raise it ``from exc``)."""
    if is_transient(exc):
        return StoreUnavailable(f"The durable store could not {action}.")
    return StoreBug(f"The durable store refused to {action}: {type(exc).__name__}.")


@contextmanager
def _translate_errors(action: str) -> Iterator[None]:
    from pymongo.errors import PyMongoError

    try:
        yield
    except PyMongoError as exc:
        raise translate(exc, action) from exc


def _session(doc: Mapping[str, Any]) -> StoredSession:
    return StoredSession(doc["_id"], doc["state"], int(doc["version"]), doc["updated_at"])


def sizes_of(state: Mapping[str, Any]) -> dict[str, Any]:
    """The size bookkeeping of a session state (the ``sizes`` field of its document).

    ``members``: the sum of the members' sizes (the state's compact JSON is one
    byte more); ``key.<name>``: each member's size; ``navigation``: the size of
    each navigation entry, in order; ``navigation_seq``: bumped by every write
    of the navigation, so that an append can tell whether the list it judged
    is still the list it appends to.
    """
    by_key = documents.member_sizes(dict(state))
    navigation = state.get("navigation")
    items = navigation if isinstance(navigation, list) else []
    return {
        "members": sum(by_key.values()),
        "key": by_key,
        "navigation": [len(documents.dumps(item)) for item in items],
        "navigation_seq": 0,
    }


def _within(members: int, delta: int, max_bytes: int) -> bool:
    # After the write the state has at least the written member, so its size is members + 1.
    return members + delta + 1 <= max_bytes


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
            doc = self._sessions.find_one({"_id": session_id}, _SESSION_FIELDS)
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

        Concurrent calls create it once, and a call sent again after a lost
        answer finds the first one's document. The unique ``_id`` index decides
        the winner: an insert that loses raises DuplicateKeyError and reads the
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
            "sizes": sizes_of(state),
        }
        with _translate_errors("create the session"):
            existing = self._sessions.find_one({"_id": session_id}, _SESSION_FIELDS)
            if existing is None:
                try:
                    self._sessions.insert_one(doc)
                except DuplicateKeyError:
                    existing = self._sessions.find_one({"_id": session_id}, _SESSION_FIELDS)
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
        """Set ``state.<key>`` and bump the version in one atomic update.

        ``value_bytes`` is the value's compact JSON size. Raises SessionNotFound,
        PreconditionFailed, PayloadTooLarge (nothing written), WriteConflict
        (the key kept changing), StoreUnavailable, StoreBug.
        """
        new_size = documents.member_bytes(key, value_bytes)
        extra_set: dict[str, Any] = {}
        extra_inc: dict[str, int] = {}
        if key == "navigation":
            extra_set["sizes.navigation"] = [len(documents.dumps(item)) for item in value]
            extra_inc["sizes.navigation_seq"] = 1

        def attempt(sizes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], int]:
            old_size = sizes["key"].get(key)
            guard = {f"sizes.key.{key}": {"$exists": False} if old_size is None else old_size}
            update = {
                "$set": {f"state.{key}": value, f"sizes.key.{key}": new_size, "updated_at": now, **extra_set},
                "$inc": {"version": 1, **extra_inc},
            }
            return guard, update, new_size - (old_size or 0)

        return self._guarded_update(
            session_id, attempt, max_bytes=max_bytes, expected_version=expected_version
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
        """Append ``entry`` to ``state.navigation``, keeping the newest ``limit`` entries.

        Raises as :meth:`set_session_key`.
        """

        def attempt(sizes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], int]:
            items = [*sizes.get("navigation", []), entry_bytes][-limit:]
            new_size = documents.member_bytes("navigation", documents.array_bytes(items))
            seq = sizes.get("navigation_seq")
            guard = {"sizes.navigation_seq": {"$exists": False} if seq is None else seq}
            update = {
                "$push": {
                    "state.navigation": {"$each": [entry], "$slice": -limit},
                    "sizes.navigation": {"$each": [entry_bytes], "$slice": -limit},
                },
                "$set": {"sizes.key.navigation": new_size, "updated_at": now},
                "$inc": {"version": 1, "sizes.navigation_seq": 1},
            }
            return guard, update, new_size - sizes["key"].get("navigation", 0)

        return self._guarded_update(
            session_id, attempt, max_bytes=max_bytes, expected_version=expected_version
        )

    def _guarded_update(
        self,
        session_id: str,
        attempt: Any,
        *,
        max_bytes: int,
        expected_version: int | None,
    ) -> StoredSession:
        """Read the sizes, judge the write, and apply it only if what was judged still holds.

        ``attempt(sizes)`` returns the filter guard of what it judged, the
        update, and the change of the members' total. The update adds that
        change to ``sizes.members`` in the same operation, with the total's
        bound in the filter, so the limit holds however writers interleave.
        """
        from pymongo import ReturnDocument

        with _translate_errors("update the session"):
            for _ in range(MAX_WRITE_ATTEMPTS):
                current = self._sessions.find_one({"_id": session_id}, {"version": 1, "sizes": 1})
                if current is None:
                    raise SessionNotFound()
                version = int(current["version"])
                if expected_version is not None and version != expected_version:
                    raise PreconditionFailed(current_version=version)
                sizes = current.get("sizes")
                if sizes is None:
                    self._add_sizes(session_id, version)
                    continue
                guard, update, delta = attempt(sizes)
                if not _within(int(sizes["members"]), delta, max_bytes):
                    raise PayloadTooLarge()
                update.setdefault("$inc", {})["sizes.members"] = delta
                flt: dict[str, Any] = {
                    "_id": session_id,
                    **guard,
                    "sizes.members": {"$lte": max_bytes - 1 - delta},
                }
                if expected_version is not None:
                    flt["version"] = expected_version
                doc = self._sessions.find_one_and_update(
                    flt, update, projection=_SESSION_FIELDS, return_document=ReturnDocument.AFTER
                )
                if doc is not None:
                    return _session(doc)
                # The key (or the total) changed between the read and the write: judge again.
        raise WriteConflict()

    def _add_sizes(self, session_id: str, version: int) -> None:
        """Give a document written before size bookkeeping its ``sizes`` (once, guarded by version)."""
        doc = self._sessions.find_one({"_id": session_id}, {"state": 1})
        if doc is not None:
            self._sessions.update_one(
                {"_id": session_id, "version": version, "sizes": {"$exists": False}},
                {"$set": {"sizes": sizes_of(doc["state"])}},
            )

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


def make_mongo_client(uri: str, *, timeout_ms: int, tls_ca_file: str | None = None) -> Any:
    """A ``pymongo.MongoClient`` for ``uri`` with explicit timeouts; it connects on first use.

    The URI carries what the server needs (for Amazon DocumentDB:
    ``tls=true&replicaSet=rs0&retryWrites=false``). Reads always go to the
    primary, whatever the URI asks: a write is judged on what the store holds
    (a lagging replica would answer a false 412 or an older size), and a read
    refills the cache (a replica's older version would be cached).
    ``tls_ca_file`` (``STATEWAY_MONGODB_TLS_CA_FILE``) adds a CA bundle and turns
    TLS on. Raises pymongo's ConfigurationError for a malformed URI, or for a
    ``mongodb+srv`` name whose DNS lookup fails (:func:`is_transient` tells which).
    """
    from pymongo import MongoClient

    options: dict[str, Any] = {}
    if tls_ca_file:
        options.update(tls=True, tlsCAFile=tls_ca_file)
    return MongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,
        appname="stateway",
        readPreference="primary",
        **options,
    )
