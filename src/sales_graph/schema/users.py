"""GraphQL types of users and roles."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from sales_graph.db.models import User as UserRow
from sales_graph.domain import Role as RoleValue
from sales_graph.schema.context import Info

# Registers the domain enum as the GraphQL enum Role; annotations use the domain class.
Role = strawberry.enum(RoleValue, name="Role", description="What a user may see and do.")


@strawberry.type(description="A person of the sales organisation.")
class User:
    id: strawberry.ID
    email: str
    name: str
    role: RoleValue
    is_active: bool
    created_at: datetime
    manager_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="Who this user reports to.")
    async def manager(self, info: Info) -> User | None:
        return await load_user(info, self.manager_id)

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


async def load_user(info: Info, user_id: uuid.UUID | None) -> User | None:
    if user_id is None:
        return None
    row = await info.context.loaders.user.load(user_id)
    return User.from_row(row) if row else None
