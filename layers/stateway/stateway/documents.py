"""JSON state documents: what may be stored, and how big it is.

A document is stored in MongoDB as BSON and cached as compact JSON, so it must
survive both: object keys may not start with ``$`` or contain ``.`` or NUL (no
operator or path injection), integers must fit in signed 64 bits, strings must
be Unicode that UTF-8 can encode (no lone UTF-16 surrogate: JSON's ``"\\ud800"``
escape parses, but neither orjson nor BSON can write it), and nesting is
bounded. Size is measured as compact UTF-8 JSON, as the contract says.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from stateway.errors import InvalidState, PayloadTooLarge

MAX_DEPTH = 64
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
# After parsing, a surrogate pair is one character; any surrogate left is a lone one.
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string or object key in ``value`` (parsed JSON) holds a lone UTF-16 surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def check_document(value: Any, *, what: str = "state") -> None:
    """Raise :class:`InvalidState` unless ``value`` can be stored as it is."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth >= MAX_DEPTH:
                raise InvalidState(f"{what} nests deeper than {MAX_DEPTH} levels.")
            for key, child in item.items():
                if not isinstance(key, str) or key.startswith("$") or "." in key or "\x00" in key:
                    raise InvalidState(
                        f"{what} has an object key that starts with '$' or contains '.' or NUL."
                    )
                if _SURROGATE.search(key):
                    raise InvalidState(f"{what} has an object key with a lone UTF-16 surrogate.")
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth >= MAX_DEPTH:
                raise InvalidState(f"{what} nests deeper than {MAX_DEPTH} levels.")
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if _SURROGATE.search(item):
                raise InvalidState(f"{what} has a string with a lone UTF-16 surrogate.")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, float):
            # JSON has no Infinity or NaN; an integral number beyond 64 bits is an integer
            # BSON cannot hold, whether it was written 1e300 or with all its digits.
            if not math.isfinite(item) or (item.is_integer() and not _INT64_MIN <= item <= _INT64_MAX):
                raise InvalidState(f"{what} has a number that is not finite or not within 64 bits.")
        elif isinstance(item, int):
            if not _INT64_MIN <= item <= _INT64_MAX:
                raise InvalidState(f"{what} has an integer outside the signed 64-bit range.")
        else:
            raise InvalidState(f"{what} is not a JSON document.")


def dumps(value: Any) -> bytes:
    """Compact JSON bytes (the cache's format and the size measure)."""
    return orjson.dumps(value)


def embed(payload: bytes) -> Any:
    """Compact JSON bytes to place as they are inside a document given to :func:`dumps`."""
    return orjson.Fragment(payload)


def loads(payload: bytes | str) -> Any:
    return orjson.loads(payload)


# Sizes, one member at a time. A state's compact JSON is ``{`` + its members
# joined by ``,`` + ``}``; counting each member with one comma, the whole is the
# members' sum plus one byte (two when there is no member). The store keeps the
# members' sizes so that it can judge a one-key write without reading the state.


def member_bytes(key: str, value_bytes: int) -> int:
    """What one object member ``"key":<value>`` adds to the object's compact JSON, its comma included."""
    return len(dumps(key)) + value_bytes + 2


def array_bytes(item_sizes: list[int]) -> int:
    """The compact JSON size of an array whose items encode to ``item_sizes`` bytes each."""
    return 2 + sum(item_sizes) + max(0, len(item_sizes) - 1)


def member_sizes(state: dict[str, Any]) -> dict[str, int]:
    """:func:`member_bytes` of each top-level member of ``state``."""
    return {key: member_bytes(key, len(dumps(value))) for key, value in state.items()}


def encoded_within(value: Any, max_bytes: int, *, what: str = "state") -> bytes:
    """Check ``value``, encode it, and raise :class:`PayloadTooLarge` if it is over ``max_bytes``."""
    check_document(value, what=what)
    payload = dumps(value)
    if len(payload) > max_bytes:
        raise PayloadTooLarge(f"{what} is {len(payload)} bytes as JSON; the limit is {max_bytes}.")
    return payload
