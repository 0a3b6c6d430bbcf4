"""Media types of request bodies, compared as RFC 9110 (section 8.3.1) says: case-insensitively,
parameters aside."""

from __future__ import annotations

from starlette.datastructures import Headers

from sales_graph.errors import ValidationError

JSON = "application/json"


def media_type(value: str | None) -> str:
    """``Application/JSON; charset=UTF-8`` is ``application/json``; nothing is ``""``."""
    return (value or "").split(";", 1)[0].strip().lower()


def single(headers: Headers, name: str) -> str | None:
    """A header that may appear once (a singleton field, RFC 9110 section 5.3): two are a 400,
    as any two readers of the request could take different ones."""
    values = headers.getlist(name)
    if len(values) > 1:
        raise ValidationError(
            f"Send the {name} header once", details={"fields": {name: "sent more than once"}}
        )
    return values[0] if values else None


def encodings(headers: Headers) -> set[str]:
    """The content codings a body was sent with, lower case (``identity`` and none are plain)."""
    found = {
        coding.strip().lower()
        for value in headers.getlist("content-encoding")
        for coding in value.split(",")
    }
    return found - {"", "identity"}
