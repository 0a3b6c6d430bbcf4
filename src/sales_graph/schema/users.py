"""GraphQL types of users and roles."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from sales_graph.db.models import User as UserRow
from sales_graph.domain import Role as RoleValue
from sales_graph.schema.common import load_one
from sales_graph.schema.context import Info
from sales_graph.schema.derive import from_attributes

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

    from_row = from_attributes(UserRow)

    @strawberry.field(description="Who this user reports to.")
    async def manager(self, info: Info) -> User | None:
        return await load_user(info, self.manager_id)


async def load_user(info: Info, user_id: uuid.UUID | None) -> User | None:
    return await load_one(info.context.loaders.user, user_id, User.from_row)
