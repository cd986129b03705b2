"""Who the caller is: the authorizer's claims in the request context, or a bearer token verified here.

In AWS the HTTP API's JWT authorizer puts the claims in the context (``authorizer.jwt.claims``;
a REST API's Cognito authorizer puts them in ``authorizer.claims``). Where no authorizer ran,
the bearer token is verified with ``STATEWAY_JWT_SECRET`` (HS256) and, when configured, the
issuer and the audience. Anything else is 401.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from chalice.app import CaseInsensitiveMapping
from hypothesis import given
from hypothesis import strategies as st

from stateway import config
from stateway.config import Settings
from stateway.errors import Unauthorized
from stateway.http import ApiRequest, Identity
from stateway_local.devtoken import mint
from stateway_testing.strategies import valid_ids

SECRET = "unit-test-secret-" + "0123456789abcdef" * 3  # Over 64 bytes: long enough for HS512.
ISSUER = "https://issuer.example.com/pool"
AUDIENCE = "stateway-web"

PLAIN = Settings.from_env({config.JWT_SECRET: SECRET})
STRICT = Settings.from_env(
    {config.JWT_SECRET: SECRET, config.JWT_ISSUER: ISSUER, config.JWT_AUDIENCE: AUDIENCE}
)
NO_VERIFIER = Settings.from_env({})


class Raw:
    """What :class:`ApiRequest` reads of a Chalice request for the identity: context and headers."""

    def __init__(self, *, context: dict[str, Any] | None = None, authorization: str | None = None) -> None:
        self.context = context
        self.headers = CaseInsensitiveMapping(
            {} if authorization is None else {"authorization": authorization}
        )
        self.query_params = None
        self.raw_body = b""


def identity(
    *, context: dict[str, Any] | None = None, authorization: str | None = None, settings: Settings = PLAIN
) -> Identity:
    return ApiRequest(Raw(context=context, authorization=authorization), settings).identity


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
    "authorization", [None, "", "Bearer", "Bearer ", "Bearer    ", "Basic YWxpY2U6eA==", "Token abc", "abc"]
)
def test_no_claims_and_no_bearer_token_is_401(
    context: dict[str, Any] | None, authorization: str | None
) -> None:
    unauthorized(context=context, authorization=authorization)


# From a bearer token -------------------------------------------------------------------------


@given(user_id=valid_ids, client_id=valid_ids, scheme=st.sampled_from(["Bearer", "bearer", "BEARER"]))
def test_a_valid_token_is_the_caller(user_id: str, client_id: str, scheme: str) -> None:
    token = mint(user_id, client_id, SECRET)
    assert identity(authorization=f"{scheme} {token}") == Identity(user_id, client_id)


def test_a_token_with_issuer_and_audience_is_the_caller_where_they_are_required() -> None:
    token = mint("alice", "acme", SECRET, issuer=ISSUER, audience=AUDIENCE)
    assert identity(authorization=f"Bearer {token}", settings=STRICT) == Identity("alice", "acme")
    assert identity(authorization=f"Bearer  {token} ", settings=STRICT) == Identity("alice", "acme")


def test_an_audience_list_holding_ours_is_accepted() -> None:
    token = mint("alice", "acme", SECRET, issuer=ISSUER, claims={"aud": ["other", AUDIENCE]})
    assert identity(authorization=f"Bearer {token}", settings=STRICT) == Identity("alice", "acme")


def test_a_token_with_cognitos_custom_client_id_is_the_caller() -> None:
    token = mint("alice", "ignored", SECRET, claims={"custom:client_id": "acme"}, omit=["client_id"])
    assert identity(authorization=f"Bearer {token}") == Identity("alice", "acme")


def test_an_expired_token_is_401() -> None:
    unauthorized(authorization=f"Bearer {mint('alice', 'acme', SECRET, ttl=-60)}")


def test_a_token_not_yet_valid_is_401() -> None:
    token = mint("alice", "acme", SECRET, claims={"nbf": int(time.time()) + 3600})
    unauthorized(authorization=f"Bearer {token}")


def test_a_token_signed_with_another_secret_is_401() -> None:
    unauthorized(authorization=f"Bearer {mint('alice', 'acme', SECRET[:-1] + 'x')}")
    unauthorized(authorization=f"Bearer {mint('alice', 'acme', SECRET[::-1])}")


def test_a_tampered_token_is_401() -> None:
    header, payload, signature = mint("alice", "acme", SECRET).split(".")
    forged_payload = mint("alice", "evil", SECRET).split(".")[1]
    unauthorized(authorization=f"Bearer {header}.{forged_payload}.{signature}")
    unauthorized(authorization=f"Bearer {header}.{payload}.")
    unauthorized(authorization=f"Bearer {header}.{payload}")


def test_an_unsigned_token_is_401() -> None:
    token = mint("alice", "acme", None, algorithm="none")
    assert jwt.get_unverified_header(token)["alg"] == "none"
    unauthorized(authorization=f"Bearer {token}")
    unauthorized(authorization=f"Bearer {token}", settings=STRICT)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_a_token_of_another_hmac_algorithm_is_401(algorithm: str) -> None:
    unauthorized(authorization=f"Bearer {mint('alice', 'acme', SECRET, algorithm=algorithm)}")


@pytest.mark.parametrize("missing", ["exp", "sub", "client_id"])
def test_a_token_without_a_required_claim_is_401(missing: str) -> None:
    unauthorized(authorization=f"Bearer {mint('alice', 'acme', SECRET, omit=[missing])}")


@pytest.mark.parametrize("claim", ["sub", "client_id"])
@pytest.mark.parametrize("bad", BAD_ID_CLAIMS)
def test_a_token_with_an_invalid_id_claim_is_401(claim: str, bad: Any) -> None:
    token = mint("alice", "acme", SECRET, claims={claim: bad})
    unauthorized(authorization=f"Bearer {token}")


@pytest.mark.parametrize(
    ("issuer", "audience"),
    [
        ("https://issuer.example.com/other", AUDIENCE),
        (ISSUER + "/", AUDIENCE),
        (None, AUDIENCE),
        (ISSUER, "stateway-admin"),
        (ISSUER, None),
        (None, None),
    ],
)
def test_a_token_of_another_issuer_or_audience_is_401_where_they_are_configured(
    issuer: str | None, audience: str | None
) -> None:
    token = mint("alice", "acme", SECRET, issuer=issuer, audience=audience)
    unauthorized(authorization=f"Bearer {token}", settings=STRICT)


def test_issuer_and_audience_are_not_checked_where_none_is_configured() -> None:
    token = mint("alice", "acme", SECRET, issuer="https://anyone.example.com", audience="anything")
    assert identity(authorization=f"Bearer {token}") == Identity("alice", "acme")


def test_a_token_is_401_when_no_verifier_is_configured() -> None:
    unauthorized(authorization=f"Bearer {mint('alice', 'acme', SECRET)}", settings=NO_VERIFIER)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "..", "e30.e30.", "Bearer x", "x" * 5_000])
def test_a_malformed_token_is_401(token: str) -> None:
    unauthorized(authorization=f"Bearer {token}")


def test_the_identity_is_read_once_per_request() -> None:
    raw = Raw(context=v2({"sub": "alice", "client_id": "acme"}))
    request = ApiRequest(raw, PLAIN)
    first = request.identity
    raw.context = v2({"sub": "mallory", "client_id": "evil"})
    assert request.identity is first
