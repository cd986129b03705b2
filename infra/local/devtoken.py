"""Mint a development token for the local API: ``make token USER=alice CLIENT=acme``.

Signs HS256 with ``STATEWAY_JWT_SECRET``, or the development secret that
``make dev`` keeps in ``.local/jwt-secret``. Prints the token alone.
``python -m stateway_local.devtoken --user alice --client acme`` is the same.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Collection, Mapping


def mint(
    user: str,
    client: str,
    secret: str | None,
    *,
    ttl: int = 12 * 3600,
    issuer: str | None = None,
    audience: str | None = None,
    algorithm: str = "HS256",
    claims: Mapping[str, object] | None = None,
    omit: Collection[str] = (),
) -> str:
    """A JWT for ``user`` of ``client``: ``sub``, ``client_id``, ``iat``, ``exp`` (now + ``ttl``).

    ``iss`` and ``aud`` are added when ``issuer`` and ``audience`` are given; ``claims``
    adds or replaces claims, and the names in ``omit`` are left out afterwards (the tests
    build the tokens a gateway must refuse this way). ``algorithm`` is any PyJWT signs
    with; ``"none"`` with ``secret=None`` gives an unsigned token. Raises PyJWT's
    InvalidKeyError for a secret the algorithm cannot use.
    """
    import jwt

    now = int(time.time())
    payload: dict[str, object] = {"sub": user, "client_id": client, "iat": now, "exp": now + ttl}
    if issuer:
        payload["iss"] = issuer
    if audience:
        payload["aud"] = audience
    payload.update(claims or {})
    for name in omit:
        payload.pop(name, None)
    # PyJWT's "none" algorithm takes an empty key.
    return jwt.encode(payload, "" if secret is None else secret, algorithm=algorithm)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", required=True, help="the token's sub (user id)")
    parser.add_argument("--client", required=True, help="the token's client_id")
    parser.add_argument("--ttl", type=int, default=12 * 3600, help="seconds until it expires")
    args = parser.parse_args()

    from stateway.ids import is_valid_id

    for name, value in (("USER", args.user), ("CLIENT", args.client)):
        if not is_valid_id(value):
            parser.error(
                f"{name}={value!r} is not a valid id (1-128 of A-Z a-z 0-9 _ - . @, not starting with '.')"
            )
    secret = os.environ.get("STATEWAY_JWT_SECRET")
    if not secret:
        from stateway_local.run import dev_secret

        secret = dev_secret()
    print(
        mint(
            args.user,
            args.client,
            secret,
            ttl=args.ttl,
            issuer=os.environ.get("STATEWAY_JWT_ISSUER"),
            audience=os.environ.get("STATEWAY_JWT_AUDIENCE"),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
