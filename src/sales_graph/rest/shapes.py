"""Converters between REST's spelling (snake_case, lower-case enums) and GraphQL's."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sales_graph.errors import ValidationError

JSONObject = dict[str, Any]


@dataclass(frozen=True)
class RestInput:
    """What a REST request says: path parameters, query string and JSON body."""

    path: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] = field(default_factory=dict)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def camel_keys(
    values: Mapping[str, Any], *, enums: Iterable[str] = (), lists: Iterable[str] = ()
) -> JSONObject:
    """``values`` with camelCase keys; ``enums`` upper-cased, items of ``lists`` camelCased too.

    Other nested values (``metadata``) pass as they are: they are free-form JSON.
    """
    enum_names, list_names = set(enums), set(lists)
    converted: JSONObject = {}
    for key, value in values.items():
        if key in enum_names:
            value = _upper(value)
        elif key in list_names and isinstance(value, list):
            value = [camel_keys(v) if isinstance(v, Mapping) else v for v in value]
        converted[camel(key)] = value
    return converted


def lower(value: Any) -> Any:
    """A GraphQL enum name (``CLOSED_WON``) as REST spells it (``closed_won``)."""
    return value.lower() if isinstance(value, str) else value


def ident(node: Mapping[str, Any] | None) -> Any:
    """The id of a nested object, or None."""
    return node["id"] if node else None


def ids_of(nodes: list[Mapping[str, Any]] | None) -> list[Any] | None:
    """The ids of a nested list, or None (related records the caller's scopes exclude)."""
    return None if nodes is None else [node["id"] for node in nodes]


def user_ref(node: Mapping[str, Any] | None) -> JSONObject | None:
    return {"id": node["id"], "name": node["name"]} if node else None


def integer(query: Mapping[str, str], name: str) -> int | None:
    """A query-string integer; anything else is the caller's mistake."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(
            "Invalid request data", details={"fields": {name: "must be an integer"}}
        ) from None


def enum_arg(query: Mapping[str, str], name: str) -> str | None:
    raw = query.get(name)
    return raw.upper() if raw is not None else None


def pagination(connection: Mapping[str, Any]) -> JSONObject:
    return {
        "total": connection["totalCount"],
        "limit": connection["limit"],
        "offset": connection["offset"],
        "has_more": connection["hasMore"],
    }


_INPUT_PATH = re.compile(r" at '?\.?(?:input\.)?([\w.\[\]]+)'?[:;]")


def _rest_field(name: str, message: str) -> str:
    """The body field an error is about: REST's body is the ``input`` variable's fields."""
    if name == "input" and (match := _INPUT_PATH.search(message)):
        name = match.group(1)
    return ".".join(snake(p) for p in name.removeprefix("input.").split("."))


def snake_details(details: Any, message: str = "") -> Any:
    """Error details as REST spells them: the ``fields`` keys back in snake_case."""
    if not isinstance(details, dict):
        return {}
    fields = details.get("fields")
    if not isinstance(fields, dict):
        return details
    renamed = {_rest_field(str(k), message): v for k, v in fields.items()}
    return {**details, "fields": renamed}
