"""Who is calling: a user with a role, or a partner client with scopes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sales_graph.domain import Role


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    user_id: uuid.UUID | None = None
    role: Role | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    client_id: str | None = None

    @property
    def is_user(self) -> bool:
        return self.user_id is not None
