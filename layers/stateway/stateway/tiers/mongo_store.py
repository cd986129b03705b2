"""The durable MongoDB tier: collections ``sessions`` and ``project_states``.

It sends only what MongoDB (5.0 or newer, Atlas included) and Amazon
DocumentDB 5.0 both support (``tests/documentdb/`` holds DocumentDB's lists
and a test holds the store to them): ``find``, ``insert``, ``findAndModify``,
``update``, ``delete`` (and, from :mod:`stateway.migrate` at deploy time only,
``createIndexes`` and ``listIndexes``) with plain query operators
(``$lte``, ``$exists``, ``$in``, and ``$expr`` over ``$reduce``,
``$objectToArray``, ``$slice``, ``$concatArrays``, ``$size``, ``$cond`` and
arithmetic), update operators (``$set``, ``$inc``, ``$push`` with
``$each``/``$slice``, ``$setOnInsert``); no ``$bsonSize`` (DocumentDB has it
from 8.0.1 only) and no reliance on retryable writes (DocumentDB 5.0 has
none): every write is safe to send again (create-once by ``_id``, version and
size guards in the filter).

Every session write is one atomic single-document update: one key with
``$set state.<key>`` + ``$inc version``, navigation with ``$push``/``$each``/
``$slice``. The size limit is in the same update's filter: each session
document keeps its members' sizes (``sizes``, compact JSON as ``documents.py``
measures it), and an ``$expr`` adds up the size the write would leave, so the
server judges it on the document as it is when the write applies (concurrent
writes of different keys all land, and together never pass the limit).

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
)
from stateway.metrics import METRICS

SESSIONS = "sessions"
PROJECT_STATES = "project_states"

# What a read returns of a session (the size bookkeeping stays in the store).
_SESSION_FIELDS = {"state": 1, "version": 1, "updated_at": 1, "created_at": 1}

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
    def list_indexes(self, *args: Any, **kwargs: Any) -> Any: ...


class DatabaseLike(Protocol):
    """The part of ``pymongo.database.Database`` this tier uses."""

    def __getitem__(self, name: str) -> Any: ...
    def command(self, command: Any, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class Index:
    """One index the store's queries need: its collection, name and keys in order."""

    collection: str
    name: str
    keys: tuple[tuple[str, int], ...]


#: Every index the store's queries need, and nothing more (no unique, TTL, sparse or partial
#: index: ``_id`` is the only unique key, and nothing expires in the store). Created at deploy
#: time by :mod:`stateway.migrate`, never by a request.
INDEXES: tuple[Index, ...] = (
    # The namespace listing: a user's sessions within a client, newest first.
    Index(SESSIONS, "namespace_updated", (("client_id", 1), ("user_id", 1), ("updated_at", -1))),
)


@dataclass(frozen=True, slots=True)
class StoredSession:
    session_id: str
    state: dict[str, Any]
    version: int
    updated_at: datetime
    created_at: datetime | None = None
    """When the document was created: a session ended and created again is a new one."""


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

    with METRICS.timed("store"):
        try:
            yield
        except PyMongoError as exc:
            raise translate(exc, action) from exc


def _session(doc: Mapping[str, Any]) -> StoredSession:
    return StoredSession(
        doc["_id"], doc["state"], int(doc["version"]), doc["updated_at"], doc.get("created_at")
    )


def sizes_of(state: Mapping[str, Any]) -> dict[str, Any]:
    """The size bookkeeping of a session state (the ``sizes`` field of its document).

    ``key.<name>``: each member's size (:func:`documents.member_bytes`), the
    navigation aside; ``navigation``: the size of each navigation entry, in
    order (present when the state has a navigation list). The state's compact
    JSON is the members' sizes, the navigation member's, and one byte.
    """
    by_key = documents.member_sizes(dict(state))
    sizes: dict[str, Any] = {"key": by_key}
    navigation = state.get("navigation")
    if isinstance(navigation, list):
        del by_key["navigation"]
        sizes["navigation"] = [len(documents.dumps(item)) for item in navigation]
    return sizes


# The size a write leaves, as a server-side expression over ``sizes`` (DocumentDB 5.0 has
# every operator used here; ``tests/documentdb/`` holds the list).
_NAVIGATION_MEMBER = documents.member_bytes("navigation", 2)  # '"navigation":[]' and its comma


def _sum(array: Any) -> dict[str, Any]:
    return {"$reduce": {"input": array, "initialValue": 0, "in": {"$add": ["$$value", "$$this"]}}}


def _members_but(key: str | None) -> dict[str, Any]:
    """The sum of the stored members' sizes, leaving out ``key`` (the one being replaced)."""
    value: Any = "$$this.v" if key is None else {"$cond": [{"$eq": ["$$this.k", key]}, 0, "$$this.v"]}
    return {
        "$reduce": {
            "input": {"$objectToArray": "$sizes.key"},
            "initialValue": 0,
            "in": {"$add": ["$$value", value]},
        }
    }


def _navigation_member(items: Any) -> dict[str, Any]:
    """The navigation member's size for entries of sizes ``items``: ``"navigation":[a,b,…]``, comma."""
    count = {"$size": items}
    commas = {"$cond": [{"$gt": [count, 0]}, {"$subtract": [count, 1]}, 0]}
    return {"$add": [_NAVIGATION_MEMBER, _sum(items), commas]}


def _current_navigation() -> dict[str, Any]:
    return {"$cond": [{"$isArray": "$sizes.navigation"}, _navigation_member("$sizes.navigation"), 0]}


def _fits(total: dict[str, Any] | int, *parts: Any, max_bytes: int) -> dict[str, Any]:
    return {"$expr": {"$lte": [{"$add": [total, *parts, 1]}, max_bytes]}}


class MongoStore:
    """Sessions and project states in one MongoDB database."""

    def __init__(self, db: DatabaseLike) -> None:
        self._db = db
        self._sessions: CollectionLike = db[SESSIONS]
        self._projects: CollectionLike = db[PROJECT_STATES]

    def ensure_indexes(self) -> tuple[Index, ...]:
        """Create every index of :data:`INDEXES` that is missing; return them all.

        Idempotent: an index that exists with the same keys and options is left as it is.
        Only :mod:`stateway.migrate` calls it (at deploy time, or by hand), so the
        functions' requests never send ``createIndexes``. Raises StoreUnavailable, StoreBug.
        """
        with _translate_errors("create indexes"):
            for index in INDEXES:
                self._db[index.collection].create_index(list(index.keys), name=index.name)
        return INDEXES

    def index_names(self, collection: str) -> list[str]:
        """The names of a collection's indexes (none for a collection that does not exist yet).

        Raises StoreUnavailable, StoreBug.
        """
        with _translate_errors("list indexes"):
            return sorted(index["name"] for index in self._db[collection].list_indexes())

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
            return StoredSession(session_id, state, 1, now, now), True
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

        ``value_bytes`` is the value's compact JSON size. The size limit is in the
        same update's filter, judged by the server on the document as it is
        when the update applies, so writers of different keys never interfere
        and together never pass the limit. Raises SessionNotFound,
        PreconditionFailed, PayloadTooLarge (nothing written), StoreUnavailable,
        StoreBug.
        """
        new_size = documents.member_bytes(key, value_bytes)
        if key == "navigation":
            guard = _fits(_members_but(None), new_size, max_bytes=max_bytes)
            update = {
                "$set": {
                    "state.navigation": value,
                    "sizes.navigation": [len(documents.dumps(item)) for item in value],
                    "updated_at": now,
                },
                "$inc": {"version": 1},
            }
        else:
            guard = _fits(_members_but(key), _current_navigation(), new_size, max_bytes=max_bytes)
            update = {
                "$set": {f"state.{key}": value, f"sizes.key.{key}": new_size, "updated_at": now},
                "$inc": {"version": 1},
            }
        return self._guarded_update(session_id, guard, update, expected_version=expected_version)

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

        The sizes of the entries are kept in step (``$push`` with the same
        ``$slice``), so the limit is judged on the list as it will be. Raises as
        :meth:`set_session_key`.
        """
        after = {
            "$slice": [{"$concatArrays": [{"$ifNull": ["$sizes.navigation", []]}, [entry_bytes]]}, -limit]
        }
        guard = _fits(_members_but(None), _navigation_member(after), max_bytes=max_bytes)
        update = {
            "$push": {
                "state.navigation": {"$each": [entry], "$slice": -limit},
                "sizes.navigation": {"$each": [entry_bytes], "$slice": -limit},
            },
            "$set": {"updated_at": now},
            "$inc": {"version": 1},
        }
        return self._guarded_update(session_id, guard, update, expected_version=expected_version)

    def _guarded_update(
        self,
        session_id: str,
        guard: dict[str, Any],
        update: dict[str, Any],
        *,
        expected_version: int | None,
    ) -> StoredSession:
        """Apply ``update`` if the document exists, has size bookkeeping, and passes ``guard``.

        One round trip when it applies. When it does not, one read tells why:
        no document (404), another version than ``If-Match`` (412), a document
        from before size bookkeeping (given its sizes, then tried again), or
        the size (413).
        """
        from pymongo import ReturnDocument

        flt: dict[str, Any] = {"_id": session_id, "sizes.key": {"$exists": True}, **guard}
        if expected_version is not None:
            flt["version"] = expected_version
        with _translate_errors("update the session"):
            for _ in range(2):
                doc = self._sessions.find_one_and_update(
                    flt, update, projection=_SESSION_FIELDS, return_document=ReturnDocument.AFTER
                )
                if doc is not None:
                    return _session(doc)
                current = self._sessions.find_one({"_id": session_id}, {"version": 1, "sizes.key": 1})
                if current is None:
                    raise SessionNotFound()
                version = int(current["version"])
                if expected_version is not None and version != expected_version:
                    raise PreconditionFailed(current_version=version)
                if "key" in current.get("sizes", {}):
                    break
                self._add_sizes(session_id, version)
        raise PayloadTooLarge()

    def _add_sizes(self, session_id: str, version: int) -> None:
        """Give a document written before size bookkeeping its ``sizes`` (once, guarded by version)."""
        doc = self._sessions.find_one({"_id": session_id}, {"state": 1})
        if doc is not None:
            self._sessions.update_one(
                {"_id": session_id, "version": version, "sizes.key": {"$exists": False}},
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


def make_mongo_client(
    uri: str,
    *,
    timeout_ms: int,
    tls_ca_file: str | None = None,
    event_listeners: list[Any] | None = None,
    socket_timeout_ms: int | None = None,
) -> Any:
    """A ``pymongo.MongoClient`` for ``uri`` with explicit timeouts; it connects on first use.

    The URI carries what the server needs (for Amazon DocumentDB:
    ``tls=true&replicaSet=rs0&retryWrites=false``). Reads always go to the
    primary, whatever the URI asks: a write is judged on what the store holds
    (a lagging replica would answer a false 412 or an older size), and a read
    refills the cache (a replica's older version would be cached).
    ``tls_ca_file`` (``STATEWAY_MONGODB_TLS_CA_FILE``) adds a CA bundle and turns
    TLS on. ``socket_timeout_ms`` lets one command run longer than ``timeout_ms`` (an
    index build at deploy time); connecting and finding a server keep ``timeout_ms``.
    Raises pymongo's ConfigurationError for a malformed URI, or for a
    ``mongodb+srv`` name whose DNS lookup fails (:func:`is_transient` tells which).
    """
    from pymongo import MongoClient

    options: dict[str, Any] = {}
    if event_listeners:
        options["event_listeners"] = event_listeners
    if tls_ca_file:
        options.update(tls=True, tlsCAFile=tls_ca_file)
    return MongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms if socket_timeout_ms is None else socket_timeout_ms,
        appname="stateway",
        readPreference="primary",
        **options,
    )
