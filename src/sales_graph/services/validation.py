"""Input models are pydantic; their failures become one VALIDATION_ERROR naming every field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic

from sales_graph.errors import Conflict, NotFound, ValidationError
from sales_graph.jsonlimits import has_nul

M = TypeVar("M", bound=pydantic.BaseModel)
T = TypeVar("T")


class Input(pydantic.BaseModel):
    """Base of every command input: unknown fields are errors, strings are trimmed, and no
    text holds a NUL character (PostgreSQL stores none, in text or in JSON)."""

    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @pydantic.field_validator("*", mode="before")
    @classmethod
    def _no_nul_characters(cls, value: Any) -> Any:
        # PostgreSQL text and JSONB cannot hold U+0000; refuse it here rather than fail there.
        if has_nul(value):
            raise ValueError("must not contain NUL (U+0000) characters")
        return value


def field_errors(exc: pydantic.ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "input"
        fields.setdefault(name, error["msg"])
    return fields


def parse(model: type[M], data: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(dict(data))
    except pydantic.ValidationError as exc:
        raise ValidationError(
            "Invalid request data", details={"fields": field_errors(exc)}
        ) from exc


def invalid(field: str, message: str) -> ValidationError:
    return ValidationError.of(field, message)


def found(row: T | None, kind: str, field: str) -> T:
    """The row a read found; NOT_FOUND naming ``field`` when it found none (unknown or not
    visible to the caller, the same answer either way)."""
    if row is None:
        raise NotFound.of(kind, field)
    return row


def check_version(kind: str, expected: int | None, current: int) -> None:
    """Optimistic concurrency: a change based on another version than the stored one (when the
    caller names the version it read) is a CONFLICT naming both."""
    if expected is not None and expected != current:
        raise Conflict(
            f"The {kind} changed since it was read",
            details={"expected_version": expected, "current_version": current},
        )
