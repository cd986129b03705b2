"""Ids and storage keys: the only place where a key string is formed.

Every key is namespaced by its kind (``session:``, ``namespace:``,
``project_state:``), and ids can never contain ``:``, so a key of one kind can
never equal a key of another kind and two different id tuples can never give
the same key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stateway.errors import InvalidId, InvalidKey

ID_MAX_LENGTH = 128
KEY_MAX_LENGTH = 64

# 1-128 characters of A-Z a-z 0-9 _ - . @, not starting with "."
_ID_RE = re.compile(r"[A-Za-z0-9_\-@][A-Za-z0-9_\-.@]{0,127}")
# 1-64 characters of A-Z a-z 0-9 _ -, not starting with a digit or "-"
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")
# An integer where one is sent as text (a query parameter, a header, a part of an id): ASCII
# digits only. str.isdigit() and int() also take other scripts' digits ("\u0661\u0660", fullwidth
# "\uff11"), and isdigit() takes "\u00b2", which int() refuses.
_DIGITS_RE = re.compile(r"[0-9]+", re.ASCII)
#: 18 digits always fit in a signed 64-bit integer.
INT_MAX_DIGITS = 18

SESSION_PREFIX = "session"
NAMESPACE_PREFIX = "namespace"
PROJECT_STATE_PREFIX = "project_state"
HEALTH_PREFIX = "health"
SNAPSHOT_ROOT = "project-state"


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def validate_id(name: str, value: object) -> str:
    """Return ``value`` if it is a valid id; raise :class:`InvalidId` naming ``name``."""
    if not is_valid_id(value):
        raise InvalidId(
            f"{name} must be 1 to {ID_MAX_LENGTH} characters of A-Z a-z 0-9 _ - . @, not starting with '.'."
        )
    assert isinstance(value, str)
    return value


def validate_key(value: object) -> str:
    """Return ``value`` if it is a valid top-level state key; raise :class:`InvalidKey`."""
    if not isinstance(value, str) or _KEY_RE.fullmatch(value) is None:
        raise InvalidKey(
            f"key must be 1 to {KEY_MAX_LENGTH} characters of A-Z a-z 0-9 _ -, "
            "not starting with a digit or '-'."
        )
    return value


def parse_digits(value: object, *, max_digits: int = INT_MAX_DIGITS) -> int | None:
    """The integer written by ``value`` if it is 1 to ``max_digits`` ASCII digits, else ``None``.

    No sign, no spaces, no underscores and no other script's digits: exactly what
    ``str(n)`` writes for a non-negative ``n``, leading zeros aside. The length is
    checked first, so a 5,000-digit value costs nothing.
    """
    if not isinstance(value, str) or not 0 < len(value) <= max_digits:
        return None
    if _DIGITS_RE.fullmatch(value) is None:
        return None
    return int(value)


@dataclass(frozen=True, slots=True)
class SessionRef:
    """The four ids that name one user session."""

    client_id: str
    user_id: str
    app_id: str
    project_id: str

    @classmethod
    def of(cls, client_id: object, user_id: object, app_id: object, project_id: object) -> SessionRef:
        """Validate each id and build the reference."""
        return cls(
            validate_id("client_id", client_id),
            validate_id("user_id", user_id),
            validate_id("app_id", app_id),
            validate_id("project_id", project_id),
        )

    @property
    def session_id(self) -> str:
        return f"{SESSION_PREFIX}:{self.client_id}:{self.user_id}:{self.app_id}:{self.project_id}"

    @property
    def namespace(self) -> str:
        return namespace_key(self.client_id, self.user_id)


def parse_session_id(value: object) -> SessionRef:
    """Parse a session id; raise :class:`InvalidId` unless it is exactly the contract's form."""
    if not isinstance(value, str):
        raise InvalidId("session_id is required.")
    parts = value.split(":")
    if len(parts) != 5 or parts[0] != SESSION_PREFIX:
        raise InvalidId("session_id must be session:<client_id>:<user_id>:<app_id>:<project_id>.")
    return SessionRef.of(parts[1], parts[2], parts[3], parts[4])


def namespace_key(client_id: object, user_id: object) -> str:
    """``namespace:<client_id>:<user_id>``: the set of one user's sessions within a client."""
    return f"{NAMESPACE_PREFIX}:{validate_id('client_id', client_id)}:{validate_id('user_id', user_id)}"


def health_key(token: str) -> str:
    """``health:<token>``: the key a health check writes, reads back and deletes.

    Its prefix is none of the contract's, so it can never be a session, a
    namespace or a project state; ``token`` is the checking process's own, so
    concurrent checks never delete each other's key.
    """
    if not token.isascii() or not token.isalnum():
        raise ValueError("a health token is ASCII letters and digits")
    return f"{HEALTH_PREFIX}:{token}"


@dataclass(frozen=True, slots=True)
class ProjectRef:
    """The three ids that name one project's state."""

    client_id: str
    app_id: str
    project_id: str

    @classmethod
    def of(cls, client_id: object, app_id: object, project_id: object) -> ProjectRef:
        return cls(
            validate_id("client_id", client_id),
            validate_id("app_id", app_id),
            validate_id("project_id", project_id),
        )

    @property
    def cache_key(self) -> str:
        """Redis key ``project_state:<client_id>:<app_id>:<project_id>``."""
        return f"{PROJECT_STATE_PREFIX}:{self.client_id}:{self.app_id}:{self.project_id}"

    @property
    def store_id(self) -> str:
        """``_id`` of the document in the ``project_states`` collection."""
        return self.cache_key

    @property
    def snapshot_prefix(self) -> str:
        """S3 prefix ``project-state/<client_id>/<app_id>/<project_id>/``."""
        return f"{SNAPSHOT_ROOT}/{self.client_id}/{self.app_id}/{self.project_id}/"
