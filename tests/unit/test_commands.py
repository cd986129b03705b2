"""The operation parsers of ``commands.py``: from a request to an authorized, typed command.

A request here is what API Gateway hands a function: the identity as the JWT authorizer's
claims in the request context, and the query, headers, body and path parameters as sent.
Each parser gives its command for the valid forms, 403 for an id that is not the caller's,
and the contract's 4xx for anything malformed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from chalice.app import CaseInsensitiveMapping, MultiDict
from hypothesis import example, given
from hypothesis import strategies as st

from stateway import commands
from stateway.commands import (
    AddNavigation,
    EndSession,
    InitSession,
    ListSnapshots,
    LoadProject,
    ReadSession,
    RestoreSnapshot,
    SaveProject,
    SetKey,
    UserSessions,
)
from stateway.config import Settings
from stateway.errors import (
    Forbidden,
    InvalidId,
    InvalidJson,
    InvalidRequest,
    PayloadTooLarge,
    StatewayError,
    Unauthorized,
    UnsupportedMediaType,
)
from stateway.http import ApiRequest
from stateway.ids import ProjectRef, SessionRef
from stateway_testing.strategies import unicode_numbers, valid_ids

CLIENT, USER = "acme", "alice"
SETTINGS = Settings.from_env({})


class Raw:
    """What :class:`ApiRequest` reads of a Chalice request, with the JWT authorizer's claims."""

    def __init__(
        self,
        *,
        caller: tuple[str, str] | None,
        query: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        self.context: dict[str, Any] = {"requestId": "test-request"}
        if caller is not None:
            client_id, user_id = caller
            claims = {"sub": user_id, "client_id": client_id}
            self.context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        self.query_params = MultiDict(query) if query is not None else None
        self.headers = CaseInsensitiveMapping({"content-type": "application/json", **(headers or {})})
        self.raw_body = body


def request(
    *,
    caller: tuple[str, str] | None = (CLIENT, USER),
    query: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
    settings: Settings = SETTINGS,
) -> ApiRequest:
    """A request; a ``body`` that is not bytes is sent as its JSON."""
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    return ApiRequest(Raw(caller=caller, query=query, headers=headers, body=raw), settings)


def refused(error: type[StatewayError], call: Callable[[], object]) -> StatewayError:
    """``call()`` raises exactly ``error`` (not a subclass: the error code is part of the contract)."""
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error, info.value
    return info.value


def sid(client_id: str = CLIENT, user_id: str = USER, app_id: str = "web", project_id: str = "p1") -> str:
    return f"session:{client_id}:{user_id}:{app_id}:{project_id}"


IF_MATCH_FORMS = [(None, None), ("7", 7), ('"7"', 7), ('W/"7"', 7), ("*", None), (' "0" ', 0)]
BAD_IF_MATCH = ["x", "-1", "7.0", "\u0667", '"7', "1" * 19, ""]
BAD_IDS = ["", ".x", "a:b", "a/b", "a b", "é", "x" * 129, "a\n"]


def headers_for(if_match: str | None) -> dict[str, str]:
    return {} if if_match is None else {"if-match": if_match}


# Every operation, in each of its forms, asking for the resource of (client_id, user_id) --------


@dataclass(frozen=True)
class Form:
    parse: Callable[..., object]
    query: dict[str, list[str]] | None = None
    body: Any = None
    path: tuple[str, ...] = ()
    names_user: bool = True
    """Whether the form names a user (sessions do; projects and the caller's own list do not)."""

    def call(self, caller: tuple[str, str] | None) -> object:
        return self.parse(request(caller=caller, query=self.query, body=self.body), *self.path)


def forms(client_id: str, user_id: str) -> dict[str, Form]:
    session = sid(client_id, user_id)
    ids = {"client_id": client_id, "user_id": user_id, "app_id": "web", "project_id": "p1"}
    project = (client_id, "web", "p1")
    return {
        "session_init": Form(commands.session_init, body=ids),
        "session_state": Form(commands.session_state, query={"session_id": [session]}),
        "session_update key": Form(
            commands.session_update, body={"session_id": session, "key": "k", "value": 1}
        ),
        "session_update navigation": Form(
            commands.session_update, body={"session_id": session, "navigation": {"page": "/"}}
        ),
        "session_end one": Form(commands.session_end, query={"session_id": [session]}),
        "session_end all": Form(
            commands.session_end, query={"client_id": [client_id], "all": ["true"]}, names_user=False
        ),
        "user_sessions": Form(commands.user_sessions, query={"client_id": [client_id]}, names_user=False),
        "project_save": Form(commands.project_save, body={"state": {}}, path=project, names_user=False),
        "project_load": Form(commands.project_load, path=project, names_user=False),
        "project_snapshots": Form(commands.project_snapshots, path=project, names_user=False),
        "project_restore": Form(commands.project_restore, path=(*project, "7-x"), names_user=False),
    }


FORM_NAMES = list(forms(CLIENT, USER))
other_pairs = st.tuples(valid_ids, valid_ids).filter(lambda pair: pair[0] != pair[1])


@pytest.mark.parametrize("name", FORM_NAMES)
def test_each_form_is_served_to_its_own_caller(name: str) -> None:
    assert forms(CLIENT, USER)[name].call((CLIENT, USER)) is not None


@pytest.mark.parametrize("name", FORM_NAMES)
def test_each_form_needs_a_caller(name: str) -> None:
    error = refused(Unauthorized, lambda: forms(CLIENT, USER)[name].call(None))
    assert error.status == 401


@given(user_id=valid_ids, ids=other_pairs)
@example(user_id=USER, ids=("acme", "ACME"))
@example(user_id=USER, ids=("acme", "acme."))
def test_another_client_is_forbidden_in_every_form(user_id: str, ids: tuple[str, str]) -> None:
    mine, theirs = ids
    caller = (mine, user_id)
    for name, form in forms(theirs, user_id).items():
        assert refused(Forbidden, functools.partial(form.call, caller)).status == 403, name
        # The same form for the caller's own client is served: the client id alone was refused.
        assert forms(mine, user_id)[name].call(caller) is not None, name


@given(client_id=valid_ids, ids=other_pairs)
@example(client_id=CLIENT, ids=("alice", "Alice"))
def test_another_user_is_forbidden_where_a_user_is_named(client_id: str, ids: tuple[str, str]) -> None:
    me, them = ids
    for name, form in forms(client_id, them).items():
        if form.names_user:
            assert refused(Forbidden, functools.partial(form.call, (client_id, me))).status == 403, name
        else:
            # A project belongs to the client, and "all of mine" is the caller's by construction.
            assert form.call((client_id, me)) is not None, name


# session_init --------------------------------------------------------------------------------


@given(valid_ids, valid_ids, valid_ids, valid_ids, st.dictionaries(st.text(max_size=5), st.integers()))
def test_init_reads_the_session_and_env(
    client_id: str, user_id: str, app_id: str, project_id: str, env: dict[str, int]
) -> None:
    body = {
        "client_id": client_id,
        "user_id": user_id,
        "app_id": app_id,
        "project_id": project_id,
        "env": env,
    }
    command = commands.session_init(request(caller=(client_id, user_id), body=body))
    assert command == InitSession(SessionRef(client_id, user_id, app_id, project_id), env)
    assert command.ref.session_id == sid(client_id, user_id, app_id, project_id)


def test_init_env_defaults_to_an_empty_object() -> None:
    body = {"client_id": CLIENT, "user_id": USER, "app_id": "web", "project_id": "p1"}
    command = commands.session_init(request(body=body))
    assert command == InitSession(SessionRef(CLIENT, USER, "web", "p1"), {})


@pytest.mark.parametrize("env", [None, [], [{"a": 1}], "x", 1, True, 1.5])
def test_init_refuses_an_env_that_is_not_an_object(env: Any) -> None:
    body = {"client_id": CLIENT, "user_id": USER, "app_id": "web", "project_id": "p1", "env": env}
    assert refused(InvalidRequest, lambda: commands.session_init(request(body=body))).status == 400


@pytest.mark.parametrize("name", ["client_id", "user_id", "app_id", "project_id"])
@pytest.mark.parametrize("bad", [*BAD_IDS, None, 7, ["acme"], "<missing>"])
def test_init_refuses_an_invalid_or_missing_id(name: str, bad: Any) -> None:
    body: dict[str, Any] = {"client_id": CLIENT, "user_id": USER, "app_id": "web", "project_id": "p1"}
    if bad == "<missing>":
        del body[name]
    else:
        body[name] = bad
    assert refused(InvalidId, lambda: commands.session_init(request(body=body))).status == 400


# session_state -------------------------------------------------------------------------------


@given(valid_ids, valid_ids, valid_ids, valid_ids)
def test_state_reads_the_session_id(client_id: str, user_id: str, app_id: str, project_id: str) -> None:
    query = {"session_id": [sid(client_id, user_id, app_id, project_id)]}
    command = commands.session_state(request(caller=(client_id, user_id), query=query))
    assert command == ReadSession(SessionRef(client_id, user_id, app_id, project_id))


MALFORMED_SESSION_IDS = [
    "",
    "session",
    "session:acme:alice:web",
    "session:acme:alice:web:p1:x",
    "Session:acme:alice:web:p1",
    "namespace:acme:alice:web:p1",
    "project_state:acme:alice:web:p1",
    "session:acme:alice:web:",
    "session::alice:web:p1",
    "session:acme:alice:.web:p1",
    "session:acme:alice:web:p 1",
    "session:acme:alice:web:p1\n",
    "session:acme:alice:web:" + "x" * 129,
    " session:acme:alice:web:p1",
]


@pytest.mark.parametrize("session_id", MALFORMED_SESSION_IDS)
def test_state_refuses_a_malformed_session_id(session_id: str) -> None:
    call = lambda: commands.session_state(request(query={"session_id": [session_id]}))  # noqa: E731
    assert refused(InvalidId, call).status == 400


@pytest.mark.parametrize("query", [None, {}, {"sessionid": [sid()]}, {"session_id": [sid(), sid()]}])
def test_state_refuses_a_missing_or_repeated_session_id(query: dict[str, list[str]] | None) -> None:
    assert refused(InvalidRequest, lambda: commands.session_state(request(query=query))).status == 400


# session_update ------------------------------------------------------------------------------


@pytest.mark.parametrize(("if_match", "expected"), IF_MATCH_FORMS)
@pytest.mark.parametrize("value", [1, "x", None, [1, {"a": 2}], {"nested": {"deep": True}}, False])
def test_update_with_key_and_value_sets_the_key(
    if_match: str | None, expected: int | None, value: Any
) -> None:
    body = {"session_id": sid(), "key": "theme", "value": value}
    command = commands.session_update(request(body=body, headers=headers_for(if_match)))
    assert command == SetKey(SessionRef(CLIENT, USER, "web", "p1"), "theme", value, expected)


@pytest.mark.parametrize(("if_match", "expected"), IF_MATCH_FORMS)
def test_update_with_navigation_adds_an_entry(if_match: str | None, expected: int | None) -> None:
    body = {"session_id": sid(), "navigation": {"page": "/home", "at": 3}}
    command = commands.session_update(request(body=body, headers=headers_for(if_match)))
    assert command == AddNavigation(
        SessionRef(CLIENT, USER, "web", "p1"), {"page": "/home", "at": 3}, expected
    )


@given(st.integers(min_value=0, max_value=10**18 - 1))
def test_update_reads_any_version_in_if_match(version: int) -> None:
    body = {"session_id": sid(), "key": "k", "value": 1}
    for header in (str(version), f'"{version}"', f'W/"{version}"'):
        command = commands.session_update(request(body=body, headers={"if-match": header}))
        assert command.expected_version == version


@pytest.mark.parametrize(
    "fields",
    [
        {"key": "k"},
        {"value": 1},
        {"key": "k", "value": 1, "navigation": {}},
        {"key": "k", "navigation": {}},
        {"value": 1, "navigation": {}},
        {},
        {"keys": "k", "values": 1},
    ],
    ids=lambda f: "+".join(f) or "neither",
)
def test_update_refuses_anything_but_key_and_value_or_navigation(fields: dict[str, Any]) -> None:
    body = {"session_id": sid(), **fields}
    assert refused(InvalidRequest, lambda: commands.session_update(request(body=body))).status == 400


@pytest.mark.parametrize("if_match", BAD_IF_MATCH)
def test_update_refuses_an_if_match_that_is_not_a_version(if_match: str) -> None:
    body = {"session_id": sid(), "key": "k", "value": 1}
    call = lambda: commands.session_update(request(body=body, headers={"if-match": if_match}))  # noqa: E731
    assert refused(InvalidRequest, call).status == 400


@given(unicode_numbers)
def test_update_refuses_other_scripts_digits_in_if_match(text: str) -> None:
    body = {"session_id": sid(), "key": "k", "value": 1}
    refused(InvalidRequest, lambda: commands.session_update(request(body=body, headers={"if-match": text})))


@pytest.mark.parametrize("session_id", [*MALFORMED_SESSION_IDS, None, 7, [sid()], "<missing>"])
def test_update_refuses_a_malformed_or_missing_session_id(session_id: Any) -> None:
    body: dict[str, Any] = {"key": "k", "value": 1}
    if session_id != "<missing>":
        body["session_id"] = session_id
    assert refused(InvalidId, lambda: commands.session_update(request(body=body))).status == 400


# session_end and user_sessions ---------------------------------------------------------------


@given(valid_ids, valid_ids, valid_ids, valid_ids)
def test_end_with_a_session_id_ends_that_session(
    client_id: str, user_id: str, app_id: str, project_id: str
) -> None:
    query = {"session_id": [sid(client_id, user_id, app_id, project_id)]}
    command = commands.session_end(request(caller=(client_id, user_id), query=query))
    assert command == EndSession(SessionRef(client_id, user_id, app_id, project_id))


@given(valid_ids, valid_ids)
def test_end_all_ends_the_callers_sessions_in_the_client(client_id: str, user_id: str) -> None:
    query = {"client_id": [client_id], "all": ["true"]}
    command = commands.session_end(request(caller=(client_id, user_id), query=query))
    assert command == UserSessions(client_id, user_id)


@pytest.mark.parametrize(
    "query",
    [
        {"session_id": [sid()], "client_id": [CLIENT]},
        {"session_id": [sid()], "all": ["true"]},
        {"session_id": [sid()], "client_id": [CLIENT], "all": ["true"]},
        {"session_id": [sid()], "all": ["false"]},
        {"client_id": [CLIENT], "all": ["false"]},
        {"client_id": [CLIENT], "all": ["TRUE"]},
        {"client_id": [CLIENT], "all": ["1"]},
        {"client_id": [CLIENT], "all": [""]},
        {"client_id": [CLIENT], "all": ["true", "true"]},
        {"client_id": [CLIENT]},
        {"all": ["true"]},
        {"session_id": [sid(), sid()]},
        {},
    ],
    ids=lambda q: "&".join(f"{k}={'|'.join(v)}" for k, v in q.items()) or "nothing",
)
def test_end_refuses_anything_but_one_session_or_all_of_a_client(query: dict[str, list[str]]) -> None:
    assert refused(InvalidRequest, lambda: commands.session_end(request(query=query))).status == 400


@pytest.mark.parametrize("bad", BAD_IDS)
def test_end_all_refuses_an_invalid_client_id(bad: str) -> None:
    call = lambda: commands.session_end(request(query={"client_id": [bad], "all": ["true"]}))  # noqa: E731
    assert refused(InvalidId, call).status == 400


@pytest.mark.parametrize("session_id", MALFORMED_SESSION_IDS)
def test_end_refuses_a_malformed_session_id(session_id: str) -> None:
    call = lambda: commands.session_end(request(query={"session_id": [session_id]}))  # noqa: E731
    assert refused(InvalidId, call).status == 400


@given(valid_ids, valid_ids)
def test_user_sessions_are_the_callers_own(client_id: str, user_id: str) -> None:
    command = commands.user_sessions(request(caller=(client_id, user_id), query={"client_id": [client_id]}))
    assert command == UserSessions(client_id, user_id)


@pytest.mark.parametrize("query", [None, {}, {"client_id": [CLIENT, CLIENT]}])
def test_user_sessions_refuse_a_missing_or_repeated_client_id(query: dict[str, list[str]] | None) -> None:
    assert refused(InvalidRequest, lambda: commands.user_sessions(request(query=query))).status == 400


@pytest.mark.parametrize("bad", BAD_IDS)
def test_user_sessions_refuse_an_invalid_client_id(bad: str) -> None:
    assert (
        refused(InvalidId, lambda: commands.user_sessions(request(query={"client_id": [bad]}))).status == 400
    )


# project_save, project_load ------------------------------------------------------------------


@given(valid_ids, valid_ids, valid_ids, valid_ids)
def test_save_reads_the_project_and_its_state(
    client_id: str, user_id: str, app_id: str, project_id: str
) -> None:
    state = {"layers": [1, 2], "title": "t"}
    req = request(caller=(client_id, user_id), body={"state": state}, headers={"if-match": '"3"'})
    command = commands.project_save(req, client_id, app_id, project_id)
    assert command == SaveProject(ProjectRef(client_id, app_id, project_id), state, 3)


@pytest.mark.parametrize(("if_match", "expected"), IF_MATCH_FORMS)
def test_save_takes_if_match(if_match: str | None, expected: int | None) -> None:
    req = request(body={"state": {}}, headers=headers_for(if_match))
    assert commands.project_save(req, CLIENT, "web", "p1").expected_version == expected


@pytest.mark.parametrize("body", [{}, {"State": {}}, {"states": {}}, {"value": {}}])
def test_save_refuses_a_body_without_state(body: dict[str, Any]) -> None:
    call = lambda: commands.project_save(request(body=body), CLIENT, "web", "p1")  # noqa: E731
    assert refused(InvalidRequest, call).status == 400


@pytest.mark.parametrize("if_match", BAD_IF_MATCH)
def test_save_refuses_an_if_match_that_is_not_a_version(if_match: str) -> None:
    req = request(body={"state": {}}, headers={"if-match": if_match})
    assert refused(InvalidRequest, lambda: commands.project_save(req, CLIENT, "web", "p1")).status == 400


@given(valid_ids, valid_ids, valid_ids)
def test_load_reads_the_project(client_id: str, app_id: str, project_id: str) -> None:
    command = commands.project_load(request(caller=(client_id, USER)), client_id, app_id, project_id)
    assert command == LoadProject(ProjectRef(client_id, app_id, project_id))


PROJECT_PARSERS: dict[str, Callable[[ApiRequest, str, str, str], object]] = {
    "project_save": commands.project_save,
    "project_load": commands.project_load,
    "project_snapshots": commands.project_snapshots,
    "project_restore": lambda req, c, a, p: commands.project_restore(req, c, a, p, "7-x"),
}


@pytest.mark.parametrize("parser", list(PROJECT_PARSERS))
@pytest.mark.parametrize("position", [0, 1, 2])
@pytest.mark.parametrize("bad", BAD_IDS)
def test_project_paths_refuse_an_invalid_id(parser: str, position: int, bad: str) -> None:
    path = [CLIENT, "web", "p1"]
    path[position] = bad
    call = lambda: PROJECT_PARSERS[parser](request(body={"state": {}}), *path)  # noqa: E731
    assert refused(InvalidId, call).status == 400


# project_snapshots ---------------------------------------------------------------------------


def snapshots(query: dict[str, list[str]] | None) -> ListSnapshots:
    return commands.project_snapshots(request(query=query), CLIENT, "web", "p1")


@pytest.mark.parametrize("query", [None, {}, {"other": ["x"]}])
def test_snapshots_default_to_the_first_page_of_20(query: dict[str, list[str]] | None) -> None:
    assert snapshots(query) == ListSnapshots(ProjectRef(CLIENT, "web", "p1"), 20, None)
    assert commands.PAGE_DEFAULT == 20


@given(st.integers(min_value=1, max_value=100), st.none() | st.text(max_size=40))
def test_snapshots_read_a_limit_up_to_100_and_a_cursor(limit: int, before: str | None) -> None:
    query = {"limit": [str(limit)]} | ({} if before is None else {"before": [before]})
    assert snapshots(query) == ListSnapshots(ProjectRef(CLIENT, "web", "p1"), limit, before)


def test_snapshots_limit_may_have_leading_zeros_within_its_digits() -> None:
    assert snapshots({"limit": ["007"]}).limit == 7
    assert snapshots({"limit": ["100"]}).limit == commands.PAGE_MAX == 100


@pytest.mark.parametrize(
    "limit",
    [
        "0",
        "101",
        "1000",
        "0101",
        "-1",
        "+5",
        " 5",
        "5 ",
        "1e2",
        "5.0",
        "",
        "x",
        "\u0661\u0660",
        "\uff15",
        "\u00b2",
        "9" * 5_000,
    ],
)
def test_snapshots_refuse_a_limit_that_is_not_1_to_100(limit: str) -> None:
    assert refused(InvalidRequest, lambda: snapshots({"limit": [limit]})).status == 400


@given(unicode_numbers)
def test_snapshots_refuse_other_scripts_digits_in_limit(text: str) -> None:
    refused(InvalidRequest, lambda: snapshots({"limit": [text]}))


@pytest.mark.parametrize("query", [{"limit": ["5", "5"]}, {"before": ["a", "b"]}])
def test_snapshots_refuse_a_repeated_parameter(query: dict[str, list[str]]) -> None:
    refused(InvalidRequest, lambda: snapshots(query))


# project_restore -----------------------------------------------------------------------------


@given(valid_ids, valid_ids, valid_ids, st.text(max_size=40))
def test_restore_reads_the_project_and_the_snapshot_id(
    client_id: str, app_id: str, project_id: str, snapshot_id: str
) -> None:
    req = request(caller=(client_id, USER), headers={"if-match": "12"})
    command = commands.project_restore(req, client_id, app_id, project_id, snapshot_id)
    assert command == RestoreSnapshot(ProjectRef(client_id, app_id, project_id), snapshot_id, 12)


@pytest.mark.parametrize(("if_match", "expected"), IF_MATCH_FORMS)
def test_restore_takes_if_match(if_match: str | None, expected: int | None) -> None:
    req = request(headers=headers_for(if_match))
    assert commands.project_restore(req, CLIENT, "web", "p1", "7-x").expected_version == expected


@pytest.mark.parametrize("if_match", BAD_IF_MATCH)
def test_restore_refuses_an_if_match_that_is_not_a_version(if_match: str) -> None:
    req = request(headers={"if-match": if_match})
    assert (
        refused(InvalidRequest, lambda: commands.project_restore(req, CLIENT, "web", "p1", "7-x")).status
        == 400
    )


# public --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"authorization": "Bearer not-a-token"}, {"authorization": "Basic x"}]
)
def test_public_needs_no_caller(headers: dict[str, str]) -> None:
    parse: Callable[[ApiRequest], object] = commands.public
    assert parse(request(caller=None, headers=headers)) is None


# Bodies: the same 4xx classes for every parser that reads one --------------------------------

BODY_PARSERS: dict[str, Callable[[ApiRequest], object]] = {
    "session_init": commands.session_init,
    "session_update": commands.session_update,
    "project_save": lambda req: commands.project_save(req, CLIENT, "web", "p1"),
}


@pytest.mark.parametrize("parser", list(BODY_PARSERS))
@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"not json", b'{"a": 1,}', b'{"a": NaN}', b'{"a": 1, "a": 2}', b'{"a": "\\ud800"}', b"\xff"],
)
def test_bodies_that_are_not_json_are_invalid_json(parser: str, body: bytes) -> None:
    assert refused(InvalidJson, lambda: BODY_PARSERS[parser](request(body=body))).status == 400


@pytest.mark.parametrize("parser", list(BODY_PARSERS))
@pytest.mark.parametrize("body", [b"[]", b"[{}]", b"null", b"1", b'"x"', b"true"])
def test_bodies_that_are_not_objects_are_invalid_requests(parser: str, body: bytes) -> None:
    assert refused(InvalidRequest, lambda: BODY_PARSERS[parser](request(body=body))).status == 400


@pytest.mark.parametrize("parser", list(BODY_PARSERS))
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "", "json"])
def test_bodies_of_another_content_type_are_415(parser: str, content_type: str) -> None:
    req = request(body={"state": {}}, headers={"content-type": content_type})
    assert refused(UnsupportedMediaType, lambda: BODY_PARSERS[parser](req)).status == 415


@pytest.mark.parametrize("parser", list(BODY_PARSERS))
@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"]
)
def test_bodies_of_a_json_content_type_are_read(parser: str, content_type: str) -> None:
    body: dict[str, Any] = {"client_id": CLIENT, "user_id": USER, "app_id": "web", "project_id": "p1"}
    body |= {"session_id": sid(), "key": "k", "value": 1, "state": {}} if parser != "session_init" else {}
    assert BODY_PARSERS[parser](request(body=body, headers={"content-type": content_type})) is not None


@pytest.mark.parametrize("parser", list(BODY_PARSERS))
def test_bodies_far_over_the_size_limit_are_413(parser: str) -> None:
    small = Settings.from_env({}, max_state_bytes=1_000)
    body = {"session_id": sid(), "key": "k", "value": "x" * 70_000, "state": {"x": "x" * 70_000}}
    body |= {"client_id": CLIENT, "user_id": USER, "app_id": "web", "project_id": "p1"}
    assert (
        refused(PayloadTooLarge, lambda: BODY_PARSERS[parser](request(body=body, settings=small))).status
        == 413
    )
