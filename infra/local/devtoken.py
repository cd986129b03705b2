"""Mint a development token for the local API: ``make token USER=alice CLIENT=acme``.

Signs HS256 with ``STATEWAY_JWT_SECRET``, or the development secret that
``make dev`` keeps in ``.local/jwt-secret``. Prints the token alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def mint(
    user: str,
    client: str,
    secret: str,
    *,
    ttl: int = 12 * 3600,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    import jwt

    now = int(time.time())
    claims: dict[str, object] = {"sub": user, "client_id": client, "iat": now, "exp": now + ttl}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


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
        from run import dev_secret

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
