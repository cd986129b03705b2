"""API Gateway's JWT authorizer, played where none runs: the local gateway and LocalStack's free plan.

In AWS the HTTP API's JWT authorizer checks each request before any function
runs, and the function finds the token's claims in its event. The functions
never verify a token themselves. Where no authorizer runs, whatever stands in
front of the functions calls :func:`authorize` and does the same:

* the token comes from the ``Authorization`` header (the template's identity
  source), with or without the ``Bearer`` prefix;
* its signature is checked: HS256 with ``STATEWAY_JWT_SECRET`` (local
  development) or RS256/ES256 with the keys at ``STATEWAY_JWKS_URL``; ``exp``
  is required, ``nbf`` and ``iat`` are honoured;
* with an issuer configured, ``iss`` must be it; with audiences configured,
  ``aud`` must name one of them, or, when the token has no ``aud``, its
  ``client_id`` must (what API Gateway does);
* a request it refuses gets API Gateway's 401: ``{"message":"Unauthorized"}``
  and a ``www-authenticate`` header saying why;
* the claims it passes on are strings, as API Gateway passes them
  (``requestContext.authorizer.claims`` in payload format 1.0).

Settings: ``STATEWAY_JWT_SECRET`` or ``STATEWAY_JWKS_URL``, and
``STATEWAY_JWT_ISSUER``, ``STATEWAY_JWT_AUDIENCE`` (comma-separated).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

JWT_SECRET = "STATEWAY_JWT_SECRET"
JWKS_URL = "STATEWAY_JWKS_URL"
JWT_ISSUER = "STATEWAY_JWT_ISSUER"
JWT_AUDIENCE = "STATEWAY_JWT_AUDIENCE"


@dataclass(frozen=True, slots=True)
class AuthorizerConfig:
    secret: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AuthorizerConfig:
        def text(name: str) -> str | None:
            value = (env.get(name) or "").strip()
            return value or None

        audience = tuple(a.strip() for a in (env.get(JWT_AUDIENCE) or "").split(",") if a.strip())
        return cls(text(JWT_SECRET), text(JWKS_URL), text(JWT_ISSUER), audience)


class Refused(Exception):
    """The request is not let through; ``description`` goes into ``www-authenticate``."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: str


def unauthorized(description: str) -> Response:
    """API Gateway's answer to a request its JWT authorizer refuses."""
    quoted = description.replace("\\", "\\\\").replace('"', '\\"')
    return Response(
        401,
        {
            "Content-Type": "application/json",
            "www-authenticate": f'Bearer scope="" error="invalid_token" error_description="{quoted}"',
        },
        json.dumps({"message": "Unauthorized"}, separators=(",", ":")),
    )


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> Any:
    from jwt import PyJWKClient

    return PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=5)


def authorize(authorization: str | None, config: AuthorizerConfig) -> dict[str, str]:
    """The claims of a valid token in the ``Authorization`` header; raises :class:`Refused`."""
    import jwt

    token = (authorization or "").strip()
    scheme, _, rest = token.partition(" ")
    if scheme.lower() == "bearer":
        token = rest.strip()
    if not token:
        raise Refused("the token is missing")
    try:
        if config.jwks_url:
            key: Any = _jwks_client(config.jwks_url).get_signing_key_from_jwt(token).key
            algorithms = ["RS256", "ES256"]
        elif config.secret:
            key, algorithms = config.secret, ["HS256"]
        else:
            raise Refused("no token verifier is configured")
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            issuer=config.issuer,
            options={"require": ["exp"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Refused("the token has expired") from exc
    except jwt.InvalidIssuerError as exc:
        raise Refused("the token does not have a valid issuer") from exc
    except jwt.PyJWTError as exc:
        raise Refused("the token is not valid") from exc
    if config.audience and not _audience_matches(claims, config.audience):
        raise Refused("the token does not have a valid audience")
    return {name: _as_string(value) for name, value in claims.items()}


def _audience_matches(claims: Mapping[str, Any], audience: tuple[str, ...]) -> bool:
    if "aud" in claims:
        aud = claims["aud"]
        names = [aud] if isinstance(aud, str) else list(aud) if isinstance(aud, list) else []
        return any(name in audience for name in names)
    return claims.get("client_id") in audience


def _as_string(value: Any) -> str:
    """A claim as API Gateway hands it on: text, numbers as digits, lists as ``[a b]``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_as_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
