"""Who the caller is: only the claims the authorizer put in the request context.

In AWS the HTTP API's JWT authorizer puts them there (``authorizer.jwt.claims``, or
``authorizer.claims`` in payload format 1.0 and after a REST API's Cognito authorizer);
elsewhere whatever stands in front of the functions does (:mod:`stateway_edge.authorizer`,
tested in ``test_authorizer.py``). A function never verifies a token: a request without
claims is 401, whatever its ``Authorization`` header holds.
"""

from __future__ import annotations

from typing import Any

import pytest
from chalice.app import CaseInsensitiveMapping
from hypothesis import given
from hypothesis import strategies as st

from stateway.config import Settings
from stateway.errors import Unauthorized
from stateway.http import ApiRequest, Identity
from stateway_edge.authorizer import AuthorizerConfig, authorize
from stateway_local.devtoken import mint
from stateway_testing.strategies import valid_ids

SECRET = "unit-test-secret-" + "0123456789abcdef" * 3
SETTINGS = Settings.from_env({})


class Raw:
    """What :class:`ApiRequest` reads of a Chalice request for the identity: context and headers."""

    def __init__(self, *, context: dict[str, Any] | None = None, authorization: str | None = None) -> None:
        self.context = context
        self.headers = CaseInsensitiveMapping(
            {} if authorization is None else {"authorization": authorization}
        )
        self.query_params = None
        self.raw_body = b""


def identity(*, context: dict[str, Any] | None = None, authorization: str | None = None) -> Identity:
    return ApiRequest(Raw(context=context, authorization=authorization), SETTINGS).identity


def v2(claims: Any) -> dict[str, Any]:
    """An HTTP API context after its JWT authorizer (payload format 1.0 or 2.0)."""
    return {"requestId": "r", "authorizer": {"jwt": {"claims": claims, "scopes": None}}}


def v1(claims: Any) -> dict[str, Any]:
    """A REST API context after its Cognito user-pool authorizer."""
    return {"requestId": "r", "authorizer": {"claims": claims}}


def unauthorized(**kwargs: Any) -> None:
    with pytest.raises(Unauthorized) as info:
        identity(**kwargs)
    assert info.value.status == 401


# From the authorizer's claims ----------------------------------------------------------------


@given(user_id=valid_ids, client_id=valid_ids, shape=st.sampled_from([v1, v2]))
def test_claims_in_the_context_are_the_caller(user_id: str, client_id: str, shape: Any) -> None:
    context = shape({"sub": user_id, "client_id": client_id, "token_use": "access"})
    assert identity(context=context) == Identity(user_id=user_id, client_id=client_id)


@pytest.mark.parametrize("shape", [v1, v2])
def test_cognitos_custom_client_id_claim_is_the_client(shape: Any) -> None:
    context = shape({"sub": "alice", "custom:client_id": "acme"})
    assert identity(context=context) == Identity(user_id="alice", client_id="acme")


@pytest.mark.parametrize("shape", [v1, v2])
def test_the_context_wins_over_any_header(shape: Any) -> None:
    context = shape({"sub": "alice", "client_id": "acme"})
    other = mint("mallory", "evil", SECRET)
    for header in (None, "Bearer garbage", f"Bearer {other}", "Basic abc"):
        assert identity(context=context, authorization=header) == Identity("alice", "acme")


BAD_ID_CLAIMS = ["", ".x", "a:b", "a b", "é", "x" * 129, 7, None, ["alice"], {"id": "alice"}]


@pytest.mark.parametrize("shape", [v1, v2])
@pytest.mark.parametrize("claim", ["sub", "client_id"])
@pytest.mark.parametrize("bad", [*BAD_ID_CLAIMS, "<missing>"])
def test_claims_without_a_valid_sub_or_client_id_are_401(shape: Any, claim: str, bad: Any) -> None:
    claims: dict[str, Any] = {"sub": "alice", "client_id": "acme"}
    if bad == "<missing>":
        del claims[claim]
    else:
        claims[claim] = bad
    unauthorized(context=shape(claims))


@pytest.mark.parametrize("shape", [v1, v2])
def test_an_invalid_client_id_claim_is_not_replaced_by_the_cognito_one(shape: Any) -> None:
    unauthorized(context=shape({"sub": "alice", "client_id": "a:b", "custom:client_id": "acme"}))


@pytest.mark.parametrize(
    "context",
    [
        None,
        {},
        {"requestId": "r"},
        {"authorizer": None},
        {"authorizer": {}},
        {"authorizer": {"claims": {}}},
        {"authorizer": {"claims": None}},
        {"authorizer": {"claims": "sub=alice"}},
        {"authorizer": {"jwt": {}}},
        {"authorizer": {"jwt": {"claims": {}}}},
        {"authorizer": {"jwt": {"claims": ["alice", "acme"]}}},
        {"authorizer": {"principalId": "alice"}},
    ],
)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Basic YWxpY2U6eA==",
        "Token abc",
        "abc",
        # A valid token is not read either: only an authorizer's claims make a caller.
        f"Bearer {mint('alice', 'acme', SECRET)}",
        mint("alice", "acme", SECRET),
    ],
    ids=["none", "empty", "bearer", "basic", "token", "abc", "valid bearer token", "valid bare token"],
)
def test_no_claims_is_401_whatever_the_header(
    context: dict[str, Any] | None, authorization: str | None
) -> None:
    unauthorized(context=context, authorization=authorization)


@given(user_id=valid_ids, client_id=valid_ids, shape=st.sampled_from([v1, v2]))
def test_the_claims_the_authorizer_hands_on_are_the_caller(user_id: str, client_id: str, shape: Any) -> None:
    """Its claims are strings (``exp`` as digits, lists as ``[a b]``); the identity is read from them."""
    token = mint(user_id, client_id, SECRET, claims={"scope": ["read", "write"]})
    claims = authorize(f"Bearer {token}", AuthorizerConfig(secret=SECRET))
    assert identity(context=shape(claims)) == Identity(user_id=user_id, client_id=client_id)


def test_the_identity_is_read_once_per_request() -> None:
    raw = Raw(context=v2({"sub": "alice", "client_id": "acme"}))
    request = ApiRequest(raw, SETTINGS)
    first = request.identity
    raw.context = v2({"sub": "mallory", "client_id": "evil"})
    assert request.identity is first
