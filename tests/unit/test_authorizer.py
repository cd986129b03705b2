"""API Gateway's JWT authorizer, as :mod:`stateway_edge.authorizer` plays it where none runs.

It lets a request through with the token's claims (as strings, the way API Gateway hands them
on), or refuses it with the reason that goes into ``www-authenticate``. It checks what API
Gateway checks: the signature (HS256 with the secret, or RS256/ES256 from a JWKS), ``exp``
(required), ``nbf`` and ``iat``, the issuer and the audience where they are configured. Who the
caller is (``sub``, ``client_id``) is the functions' business, not the authorizer's.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st

from stateway_edge.authorizer import (
    JWKS_URL,
    JWT_AUDIENCE,
    JWT_ISSUER,
    JWT_SECRET,
    AuthorizerConfig,
    Refused,
    authorize,
    unauthorized,
)
from stateway_local.devtoken import mint
from stateway_testing.strategies import valid_ids

SECRET = "unit-test-secret-" + "0123456789abcdef" * 3  # Over 64 bytes: long enough for HS512.
ISSUER = "https://issuer.example.com/pool"
AUDIENCE = "stateway-web"

PLAIN = AuthorizerConfig(secret=SECRET)
STRICT = AuthorizerConfig(secret=SECRET, issuer=ISSUER, audience=(AUDIENCE,))
NO_VERIFIER = AuthorizerConfig()

MISSING = "the token is missing"
INVALID = "the token is not valid"
EXPIRED = "the token has expired"
BAD_ISSUER = "the token does not have a valid issuer"
BAD_AUDIENCE = "the token does not have a valid audience"


def refused(authorization: str | None, config: AuthorizerConfig = PLAIN) -> str:
    """The reason ``authorize`` refuses the header for."""
    with pytest.raises(Refused) as info:
        authorize(authorization, config)
    assert str(info.value) == info.value.description
    return info.value.description


def bearer(token: str) -> str:
    return f"Bearer {token}"


# Let through ---------------------------------------------------------------------------------


@given(user_id=valid_ids, client_id=valid_ids, scheme=st.sampled_from(["Bearer ", "bearer ", "BEARER ", ""]))
def test_a_valid_token_is_let_through_with_its_claims(user_id: str, client_id: str, scheme: str) -> None:
    now = int(time.time())
    token = mint(user_id, client_id, SECRET, claims={"iat": now, "exp": now + 600})
    # With or without the "Bearer" prefix, as API Gateway reads the Authorization header.
    claims = authorize(f"{scheme}{token}", PLAIN)
    assert claims == {"sub": user_id, "client_id": client_id, "iat": str(now), "exp": str(now + 600)}


def test_spaces_around_the_token_are_not_part_of_it() -> None:
    token = mint("alice", "acme", SECRET)
    for header in (f"Bearer  {token} ", f"  {token}\t", f" bearer {token}"):
        assert authorize(header, PLAIN)["sub"] == "alice"


def test_claims_are_handed_on_as_strings() -> None:
    token = mint(
        "alice",
        "acme",
        SECRET,
        claims={
            "scope": ["read", "write"],
            "groups": [],
            "count": 7,
            "big": 2**63,
            "ratio": 1.5,
            "admin": True,
            "guest": False,
            "address": {"country": "NL", "n": 1},
            "custom:client_id": "acme",
        },
    )
    claims = authorize(bearer(token), PLAIN)
    assert all(isinstance(value, str) for value in claims.values())
    assert claims["scope"] == "[read write]"
    assert claims["groups"] == "[]"
    assert (claims["count"], claims["big"], claims["ratio"]) == ("7", str(2**63), "1.5")
    assert (claims["admin"], claims["guest"]) == ("true", "false")
    assert json.loads(claims["address"]) == {"country": "NL", "n": 1}
    assert claims["custom:client_id"] == "acme"


def test_who_the_caller_is_is_not_the_authorizers_business() -> None:
    """A verified token without ``sub`` or ``client_id`` is let through: the function refuses it."""
    assert "sub" not in authorize(bearer(mint("alice", "acme", SECRET, omit=["sub"])), PLAIN)
    assert "client_id" not in authorize(bearer(mint("alice", "acme", SECRET, omit=["client_id"])), PLAIN)
    assert authorize(bearer(mint("a:b", "acme", SECRET)), PLAIN)["sub"] == "a:b"


def test_a_token_with_the_issuer_and_audience_is_let_through_where_they_are_required() -> None:
    token = mint("alice", "acme", SECRET, issuer=ISSUER, audience=AUDIENCE)
    claims = authorize(bearer(token), STRICT)
    assert (claims["iss"], claims["aud"]) == (ISSUER, AUDIENCE)


def test_an_audience_list_naming_ours_is_let_through() -> None:
    token = mint("alice", "acme", SECRET, issuer=ISSUER, claims={"aud": ["other", AUDIENCE]})
    assert authorize(bearer(token), STRICT)["aud"] == f"[other {AUDIENCE}]"


def test_without_aud_the_client_id_is_the_audience_as_in_api_gateway() -> None:
    """Cognito access tokens carry no ``aud``; API Gateway then matches ``client_id``."""
    token = mint("alice", AUDIENCE, SECRET, issuer=ISSUER)
    assert authorize(bearer(token), STRICT)["client_id"] == AUDIENCE


def test_any_configured_audience_is_enough() -> None:
    config = AuthorizerConfig(secret=SECRET, audience=("stateway-admin", AUDIENCE))
    assert authorize(bearer(mint("alice", "acme", SECRET, audience=AUDIENCE)), config)["sub"] == "alice"
    assert authorize(bearer(mint("alice", "stateway-admin", SECRET)), config)["sub"] == "alice"


def test_issuer_and_audience_are_not_checked_where_none_is_configured() -> None:
    token = mint("alice", "acme", SECRET, issuer="https://anyone.example.com", audience="anything")
    assert authorize(bearer(token), PLAIN)["iss"] == "https://anyone.example.com"


# Refused -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization", [None, "", "   ", "Bearer", "Bearer ", "bearer    ", "BEARER\t", "Bearer \t "]
)
def test_no_token_is_refused_as_missing(authorization: str | None) -> None:
    assert refused(authorization) == MISSING
    assert refused(authorization, NO_VERIFIER) == MISSING


def test_a_token_is_refused_when_no_verifier_is_configured() -> None:
    assert refused(bearer(mint("alice", "acme", SECRET)), NO_VERIFIER) == "no token verifier is configured"


def test_an_expired_token_is_refused() -> None:
    assert refused(bearer(mint("alice", "acme", SECRET, ttl=-60))) == EXPIRED
    assert refused(bearer(mint("alice", "acme", SECRET, ttl=-60, issuer=ISSUER)), STRICT) == EXPIRED


def test_a_token_not_yet_valid_is_refused() -> None:
    later = int(time.time()) + 3600
    assert refused(bearer(mint("alice", "acme", SECRET, claims={"nbf": later}))) == INVALID
    assert (
        refused(bearer(mint("alice", "acme", SECRET, claims={"iat": later, "exp": later + 600}))) == INVALID
    )


def test_a_token_signed_with_another_secret_is_refused() -> None:
    assert refused(bearer(mint("alice", "acme", SECRET[:-1] + "x"))) == INVALID
    assert refused(bearer(mint("alice", "acme", SECRET[::-1]))) == INVALID


def test_a_tampered_token_is_refused() -> None:
    header, payload, signature = mint("alice", "acme", SECRET).split(".")
    forged_payload = mint("alice", "evil", SECRET).split(".")[1]
    assert refused(bearer(f"{header}.{forged_payload}.{signature}")) == INVALID
    assert refused(bearer(f"{header}.{payload}.")) == INVALID
    assert refused(bearer(f"{header}.{payload}")) == INVALID


def test_an_unsigned_token_is_refused() -> None:
    token = mint("alice", "acme", None, algorithm="none")
    assert jwt.get_unverified_header(token)["alg"] == "none"
    assert refused(bearer(token)) == INVALID
    assert refused(bearer(token), STRICT) == INVALID
    assert refused(bearer(token + "c2lnbmF0dXJl")) == INVALID


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_a_token_of_another_hmac_algorithm_is_refused(algorithm: str) -> None:
    token = mint("alice", "acme", SECRET, algorithm=algorithm)
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    assert refused(bearer(token)) == INVALID


def test_a_token_without_exp_is_refused() -> None:
    assert refused(bearer(mint("alice", "acme", SECRET, omit=["exp"]))) == INVALID


@pytest.mark.parametrize(
    "issuer",
    ["https://issuer.example.com/other", ISSUER + "/", ISSUER.upper(), "http://issuer.example.com/pool"],
)
def test_a_token_of_another_issuer_is_refused(issuer: str) -> None:
    token = mint("alice", "acme", SECRET, issuer=issuer, audience=AUDIENCE)
    assert refused(bearer(token), STRICT) == BAD_ISSUER


def test_a_token_without_an_issuer_is_refused_where_one_is_configured() -> None:
    refused(bearer(mint("alice", "acme", SECRET, audience=AUDIENCE)), STRICT)


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "stateway-admin"},
        {"aud": ["other", "stateway-admin"]},
        {"aud": []},
        {"aud": 7},
        # With an `aud`, the client_id is not looked at.
        {"aud": "stateway-admin", "client_id": AUDIENCE},
        # Without one, the client_id must be an audience.
        {"client_id": "acme"},
    ],
    ids=repr,
)
def test_a_token_of_another_audience_is_refused(claims: dict[str, Any]) -> None:
    token = mint("alice", "acme", SECRET, issuer=ISSUER, claims=claims)
    assert refused(bearer(token), STRICT) == BAD_AUDIENCE


@pytest.mark.parametrize(
    "token", ["garbage", "a.b.c", "..", "e30.e30.", "Bearer x", "x" * 5_000, "Basic YWxpY2U6cHc="]
)
def test_a_malformed_token_is_refused(token: str) -> None:
    assert refused(bearer(token)) == INVALID


def test_another_scheme_is_not_a_token() -> None:
    assert refused("Basic YWxpY2U6cHc=") == INVALID
    assert refused(f"Token {mint('alice', 'acme', SECRET)}") == INVALID


# Keys from a JWKS ------------------------------------------------------------------------------


class Jwks:
    """A JWKS endpoint on loopback, serving the public halves of the keys it signs with."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        keys = []
        for kid, key, algorithm in (("rsa-1", self.rsa, "RS256"), ("ec-1", self.ec, "ES256")):
            jwk = json.loads(jwt.get_algorithm_by_name(algorithm).to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": algorithm, "use": "sig"})
        document = json.dumps({"keys": keys}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def sign(self, kid: str, algorithm: str, **claims: Any) -> str:
        key = self.rsa if algorithm.startswith("RS") else self.ec
        now = int(time.time())
        payload = {"sub": "alice", "client_id": "acme", "iat": now, "exp": now + 600, **claims}
        return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


@pytest.fixture(scope="module")
def jwks() -> Iterator[Jwks]:
    server = Jwks()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.mark.parametrize(("kid", "algorithm"), [("rsa-1", "RS256"), ("ec-1", "ES256")])
def test_a_token_signed_with_a_key_of_the_jwks_is_let_through(jwks: Jwks, kid: str, algorithm: str) -> None:
    config = AuthorizerConfig(jwks_url=jwks.url, issuer=ISSUER, audience=(AUDIENCE,))
    claims = authorize(bearer(jwks.sign(kid, algorithm, iss=ISSUER, aud=AUDIENCE)), config)
    assert (claims["sub"], claims["client_id"]) == ("alice", "acme")


def test_with_a_jwks_a_secret_signed_token_is_refused(jwks: Jwks) -> None:
    """The keys come from the JWKS alone, even with a secret set: HS256 is refused, even naming a key of it."""
    config = AuthorizerConfig(secret=SECRET, jwks_url=jwks.url)
    hs = jwt.encode({"sub": "alice", "exp": int(time.time()) + 600}, SECRET, headers={"kid": "rsa-1"})
    assert refused(bearer(hs), config) == INVALID
    assert authorize(bearer(jwks.sign("rsa-1", "RS256")), config)["sub"] == "alice"


def test_with_a_jwks_an_unknown_key_or_an_expired_token_is_refused(jwks: Jwks) -> None:
    config = AuthorizerConfig(jwks_url=jwks.url)
    assert refused(bearer(jwks.sign("rsa-2", "RS256")), config) == INVALID
    assert refused(bearer(jwks.sign("rsa-1", "RS256", exp=int(time.time()) - 60)), config) == EXPIRED
    assert refused(bearer("garbage"), config) == INVALID


def test_a_jwks_that_cannot_be_reached_refuses_every_token() -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{closed.server_address[1]}/jwks.json"
    closed.server_close()
    token = Jwks().sign("rsa-1", "RS256")
    assert refused(bearer(token), AuthorizerConfig(jwks_url=url)) == INVALID


# Its settings and its answer -------------------------------------------------------------------


def test_the_settings_are_read_from_the_environment() -> None:
    config = AuthorizerConfig.from_env(
        {
            JWT_SECRET: f" {SECRET} ",
            JWKS_URL: "",
            JWT_ISSUER: ISSUER,
            JWT_AUDIENCE: f" {AUDIENCE}, ,stateway-admin ",
            "STATEWAY_OTHER": "ignored",
        }
    )
    assert config == AuthorizerConfig(
        secret=SECRET, jwks_url=None, issuer=ISSUER, audience=(AUDIENCE, "stateway-admin")
    )
    assert AuthorizerConfig.from_env({}) == NO_VERIFIER
    assert AuthorizerConfig.from_env({JWT_SECRET: "  ", JWT_ISSUER: "", JWT_AUDIENCE: ","}) == NO_VERIFIER


def test_a_refusal_is_api_gateways_401() -> None:
    answer = unauthorized(EXPIRED)
    assert answer.status == 401
    assert answer.headers == {
        "Content-Type": "application/json",
        "www-authenticate": f'Bearer scope="" error="invalid_token" error_description="{EXPIRED}"',
    }
    assert answer.body == '{"message":"Unauthorized"}'


def test_a_refusals_reason_is_quoted_in_the_challenge() -> None:
    challenge = unauthorized('say "no" \\ twice').headers["www-authenticate"]
    assert challenge.endswith('error_description="say \\"no\\" \\\\ twice"')
