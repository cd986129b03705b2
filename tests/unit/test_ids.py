from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stateway.errors import InvalidId, InvalidKey
from stateway.ids import (
    ProjectRef,
    SessionRef,
    namespace_key,
    parse_session_id,
    validate_id,
    validate_key,
)

ID_CHARS = "ABCXYZabcxyz0189_-.@"
ids = st.text(alphabet=ID_CHARS, min_size=1, max_size=128).filter(lambda s: not s.startswith("."))
session_refs = st.builds(SessionRef, ids, ids, ids, ids)
project_refs = st.builds(ProjectRef, ids, ids, ids)


@given(session_refs)
def test_parse_inverts_build(ref: SessionRef) -> None:
    assert parse_session_id(ref.session_id) == ref
    assert ref.session_id == SessionRef.of(ref.client_id, ref.user_id, ref.app_id, ref.project_id).session_id


@given(session_refs, session_refs)
def test_distinct_sessions_never_share_a_key(a: SessionRef, b: SessionRef) -> None:
    if a != b:
        assert a.session_id != b.session_id
    if (a.client_id, a.user_id) != (b.client_id, b.user_id):
        assert a.namespace != b.namespace


@given(project_refs, project_refs)
def test_distinct_projects_never_share_a_key(a: ProjectRef, b: ProjectRef) -> None:
    if a != b:
        assert a.cache_key != b.cache_key
        assert a.snapshot_prefix != b.snapshot_prefix
        # No prefix of one project's snapshots lists another project's objects.
        assert not a.snapshot_prefix.startswith(b.snapshot_prefix)


@given(session_refs, project_refs)
def test_keys_of_different_kinds_never_collide(s: SessionRef, p: ProjectRef) -> None:
    keys = {s.session_id, s.namespace, p.cache_key}
    assert len(keys) == 3


def test_session_id_format() -> None:
    assert SessionRef.of("acme", "alice", "web", "p1").session_id == "session:acme:alice:web:p1"
    assert namespace_key("acme", "alice") == "namespace:acme:alice"
    assert ProjectRef.of("acme", "web", "p1").cache_key == "project_state:acme:web:p1"
    assert ProjectRef.of("acme", "web", "p1").snapshot_prefix == "project-state/acme/web/p1/"


@pytest.mark.parametrize(
    "bad",
    ["", ".hidden", "a:b", "a/b", "a$b", "a b", "é", "a\x00", "x" * 129, None, 7, "a\n"],
)
def test_invalid_ids_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidId):
        validate_id("client_id", bad)


@pytest.mark.parametrize("good", ["a", "A-b_c.d@e", "0", "-x", "_", "x" * 128, "user@example.com"])
def test_valid_ids_pass(good: str) -> None:
    assert validate_id("client_id", good) == good


@pytest.mark.parametrize(
    "bad",
    ["", "1abc", "-abc", "a.b", "a$b", "$set", "a:b", "x" * 65, "é", "a b", None, "a\n"],
)
def test_invalid_keys_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidKey):
        validate_key(bad)


@pytest.mark.parametrize("good", ["a", "_x", "Theme", "nav-items", "k_1", "x" * 64])
def test_valid_keys_pass(good: str) -> None:
    assert validate_key(good) == good


@pytest.mark.parametrize(
    "bad",
    [
        "session:a:b:c",
        "session:a:b:c:d:e",
        "sessions:a:b:c:d",
        "namespace:a:b",
        "session:a::c:d",
        "session:.a:b:c:d",
        "",
        None,
    ],
)
def test_malformed_session_ids_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidId):
        parse_session_id(bad)
