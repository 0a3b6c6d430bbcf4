"""GraphQL types of users and roles."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from sales_graph.db.models import User as UserRow
from sales_graph.domain import Role as RoleValue

Role = strawberry.enum(RoleValue, name="Role", description="What a user may see and do.")


@strawberry.type(description="A person of the sales organisation.")
class User:
    id: strawberry.ID
    email: str
    name: str
    role: Role  # type: ignore[valid-type]
    is_active: bool
    created_at: datetime
    manager_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_row(cls, row: UserRow) -> User:
        return cls(
            id=strawberry.ID(str(row.id)),
            email=row.email,
            name=row.name,
            role=RoleValue(row.role),
            is_active=row.is_active,
            created_at=row.created_at,
            manager_id=row.manager_id,
        )
