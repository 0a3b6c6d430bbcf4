"""REST's spelling (snake_case) and GraphQL's (camelCase); what a REST request says."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
