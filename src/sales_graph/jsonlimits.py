"""Limits of free-form JSON fields (lead and opportunity ``metadata``, ``configuration``).

One place for the numbers and the check; every entrance (REST, GraphQL literals and variables,
the Marketing consumer, the Customer Experience webhook, the services' input models) uses it.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

MAX_DEPTH = 8
"""Levels of objects and arrays; the field's own object is level 1."""
MAX_BYTES = 16 * 1024
"""The value encoded as compact JSON (UTF-8)."""
MAX_KEYS = 200
"""Object keys in all, at every level."""
MAX_KEY_LENGTH = 100
"""Characters of one key."""
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1

# A request body deeper than this is refused before its schema is checked (which recurses).
BODY_DEPTH = 4 * MAX_DEPTH

# What a stored value may be and still be served: the response nests it in at most about 25
# more levels, and orjson refuses to encode more than 254.
READABLE_DEPTH = 64

DESCRIPTION = (
    f"a JSON object of at most {MAX_DEPTH} levels, {MAX_KEYS} keys in all (each at most"
    f" {MAX_KEY_LENGTH} characters) and {MAX_BYTES // 1024} KiB encoded, without NUL characters"
)


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than ``limit`` levels (without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list | tuple):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in _children(item))
    return False


def has_nul(value: Any) -> bool:
    """Whether any text in the value (keys included) holds U+0000, which PostgreSQL stores in
    neither text nor JSON. A loop, not recursion: a value may nest deeper than the stack."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def _children(item: dict[Any, Any] | list[Any] | tuple[Any, ...]) -> Any:
    return item.values() if isinstance(item, dict) else item


def _scalar_problem(item: Any) -> str | None:
    if isinstance(item, str):
        return "must not contain NUL (U+0000) characters" if "\x00" in item else None
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, int):
        return None if _INT_MIN <= item <= _INT_MAX else "integers must fit in 64 bits"
    if isinstance(item, float):
        return None if item - item == 0 else "numbers must be finite"
    return "must be JSON"


def violation(value: Any, *, nul: bool = True) -> str | None:
    """Why ``value`` breaks the limits, or None. Iterative: any nesting is safe to check.
    ``nul=False`` leaves NUL characters to the input models (which name every field at once)."""
    if nested_deeper_than(value, MAX_DEPTH):
        return f"must not nest more than {MAX_DEPTH} levels"
    keys = 0
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            keys += len(item)
            if keys > MAX_KEYS:
                return f"must have at most {MAX_KEYS} keys in all"
            for key, child in item.items():
                if not isinstance(key, str):
                    return "keys must be strings"
                if len(key) > MAX_KEY_LENGTH:
                    return f"keys must be at most {MAX_KEY_LENGTH} characters"
                if nul and "\x00" in key:
                    return "must not contain NUL (U+0000) characters"
                stack.append(child)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif (problem := _scalar_problem(item)) and (nul or not isinstance(item, str)):
            return problem
    try:
        size = len(orjson.dumps(value))
    except orjson.JSONEncodeError:
        return "text must be valid Unicode"
    if size > MAX_BYTES:
        return f"must be at most {MAX_BYTES} bytes encoded as JSON"
    return None


class Unreadable(dict[str, Any]):
    """What a stored JSON document that cannot be decoded reads as: empty for the code that
    uses it, and never served (``readable`` is false)."""


def loads_stored(text: str | bytes) -> Any:
    """A stored JSON document; one nested deeper than the decoder allows is ``Unreadable``."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return Unreadable()


def readable(value: Any) -> bool:
    """Whether a stored value can be served; the limits of the past may have been looser."""
    if isinstance(value, Unreadable) or nested_deeper_than(value, READABLE_DEPTH):
        return False
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError:
        return False
    return True


def too_deep_fields(body: dict[str, Any]) -> dict[str, str]:
    """The fields of a request body nested more than ``BODY_DEPTH`` levels: refused before a
    recursive validator sees them (less deep, the free-form field itself is named)."""
    return {
        name: f"must not nest more than {MAX_DEPTH} levels"
        for name, value in body.items()
        if nested_deeper_than(value, BODY_DEPTH)
    }


def _checked(value: dict[str, Any]) -> dict[str, Any]:
    if problem := violation(value):
        raise PydanticCustomError("json_limits", problem)
    return value


JSONObject = Annotated[dict[str, Any], AfterValidator(_checked)]
"""A free-form JSON object field of an input model, within the limits."""
