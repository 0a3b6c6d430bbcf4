"""What every upstream payload model shares: lenient about new fields, strict about types,
and able to say whether it came from a stale cache entry."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, PlainSerializer, PrivateAttr

# Money is exact in Python and a JSON number on the wire, as the systems expect.
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class UpstreamModel(BaseModel):
    """A payload from an external system.

    Unknown fields are ignored so that an upstream release adding one does not break us;
    missing or mistyped fields fail validation (an ``InvalidPayload``).
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    _stale: bool = PrivateAttr(default=False)

    @property
    def stale(self) -> bool:
        """True when served from cache past its TTL because the system is failing."""
        return self._stale

    def as_stale(self) -> Self:
        copy = self.model_copy()
        copy._stale = True
        return copy


class UpstreamRequest(BaseModel):
    """A body we send: unknown fields are our bug, so they are refused."""

    model_config = ConfigDict(extra="forbid")


__all__ = ["Money", "UpstreamModel", "UpstreamRequest"]
