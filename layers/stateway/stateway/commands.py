"""What each operation is asked: one parser per operation, from the request to a typed command.

A parser reads the request (its body, query, headers and path parameters),
checks that the ids it names are the caller's own, and returns a command, or
raises the 4xx that says what is wrong. So a handler that has a command has an
authorized one, and nothing here touches a tier. The rules of the documents
themselves (sizes, keys, the navigation's shape) stay with the services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stateway.errors import InvalidRequest
from stateway.ids import ProjectRef, SessionRef, parse_session_id, validate_id

if TYPE_CHECKING:
    from stateway.http import ApiRequest

#: The snapshot history's page size: default and largest.
PAGE_DEFAULT = 20
PAGE_MAX = 100


@dataclass(frozen=True, slots=True)
class InitSession:
    ref: SessionRef
    env: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReadSession:
    ref: SessionRef


@dataclass(frozen=True, slots=True)
class SetKey:
    ref: SessionRef
    key: Any
    value: Any
    expected_version: int | None


@dataclass(frozen=True, slots=True)
class AddNavigation:
    ref: SessionRef
    entry: Any
    expected_version: int | None


UpdateSession = SetKey | AddNavigation


@dataclass(frozen=True, slots=True)
class EndSession:
    ref: SessionRef


@dataclass(frozen=True, slots=True)
class UserSessions:
    """All of one user's sessions within a client: to list them, or to end them all."""

    client_id: str
    user_id: str


EndSessions = EndSession | UserSessions


@dataclass(frozen=True, slots=True)
class SaveProject:
    ref: ProjectRef
    state: Any
    expected_version: int | None


@dataclass(frozen=True, slots=True)
class LoadProject:
    ref: ProjectRef


@dataclass(frozen=True, slots=True)
class ListSnapshots:
    ref: ProjectRef
    limit: int
    before: str | None


@dataclass(frozen=True, slots=True)
class RestoreSnapshot:
    ref: ProjectRef
    snapshot_id: str
    expected_version: int | None


# sessions -----------------------------------------------------------------------


def _session(request: ApiRequest, session_id: object) -> SessionRef:
    ref = parse_session_id(session_id)
    request.authorize(ref.client_id, ref.user_id)
    return ref


def session_init(request: ApiRequest) -> InitSession:
    """``{"client_id", "user_id", "app_id", "project_id", "env"?}``; the ids must be the caller's."""
    body = request.json_object()
    ref = SessionRef.of(
        body.get("client_id"), body.get("user_id"), body.get("app_id"), body.get("project_id")
    )
    request.authorize(ref.client_id, ref.user_id)
    env = body.get("env", {})
    if not isinstance(env, dict):
        raise InvalidRequest("env must be an object.")
    return InitSession(ref, env)


def session_state(request: ApiRequest) -> ReadSession:
    """``?session_id=``."""
    return ReadSession(_session(request, request.query("session_id")))


def session_update(request: ApiRequest) -> UpdateSession:
    """``{"session_id", "key", "value"}`` or ``{"session_id", "navigation"}``, and ``If-Match``."""
    body = request.json_object()
    ref = _session(request, body.get("session_id"))
    expected = request.if_match()
    has_key, has_value, has_navigation = "key" in body, "value" in body, "navigation" in body
    if has_navigation and not (has_key or has_value):
        return AddNavigation(ref, body["navigation"], expected)
    if has_key and has_value and not has_navigation:
        return SetKey(ref, body["key"], body["value"], expected)
    raise InvalidRequest("Give either key and value, or navigation.")


def session_end(request: ApiRequest) -> EndSessions:
    """``?session_id=`` (one session), or ``?client_id=&all=true`` (all of the caller's in a client)."""
    session_id = request.query("session_id", required=False)
    end_all = request.query("all", required=False)
    client_id = request.query("client_id", required=False)
    if session_id is not None and end_all is None and client_id is None:
        return EndSession(_session(request, session_id))
    if session_id is None and end_all == "true":
        return user_sessions(request)
    raise InvalidRequest("Give session_id, or client_id with all=true.")


def user_sessions(request: ApiRequest) -> UserSessions:
    """``?client_id=``: the caller's own client; the user is the caller."""
    client_id = validate_id("client_id", request.query("client_id"))
    request.authorize(client_id)
    return UserSessions(client_id, request.identity.user_id)


# projects -----------------------------------------------------------------------


def _project(request: ApiRequest, client_id: str, app_id: str, project_id: str) -> ProjectRef:
    ref = ProjectRef.of(client_id, app_id, project_id)
    request.authorize(ref.client_id)
    return ref


def project_save(request: ApiRequest, client_id: str, app_id: str, project_id: str) -> SaveProject:
    """``{"state": {...}}`` and ``If-Match``."""
    ref = _project(request, client_id, app_id, project_id)
    body = request.json_object()
    if "state" not in body:
        raise InvalidRequest('The body must be {"state": {...}}.')
    return SaveProject(ref, body["state"], request.if_match())


def project_load(request: ApiRequest, client_id: str, app_id: str, project_id: str) -> LoadProject:
    return LoadProject(_project(request, client_id, app_id, project_id))


def project_snapshots(request: ApiRequest, client_id: str, app_id: str, project_id: str) -> ListSnapshots:
    """``?limit=`` (1 to 100, default 20) and ``?before=`` (the previous page's cursor)."""
    ref = _project(request, client_id, app_id, project_id)
    limit = request.query_int("limit", default=PAGE_DEFAULT, low=1, high=PAGE_MAX)
    return ListSnapshots(ref, limit, request.query("before", required=False))


def project_restore(
    request: ApiRequest, client_id: str, app_id: str, project_id: str, snapshot_id: str
) -> RestoreSnapshot:
    """A snapshot id from the history (checked by the snapshots tier), and ``If-Match``."""
    return RestoreSnapshot(_project(request, client_id, app_id, project_id), snapshot_id, request.if_match())


def public(request: ApiRequest) -> None:
    """No input and no identity (the health check)."""
    return None
