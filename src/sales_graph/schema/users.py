"""GraphQL types of users and roles."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import strawberry

from sales_graph.db.models import User as UserRow
from sales_graph.domain import Role as RoleValue
from sales_graph.schema.context import Info
from sales_graph.schema.derive import from_attributes
from sales_graph.schema.relations import ToOne

# Registers the domain enum as the GraphQL enum Role; annotations use the domain class.
Role = strawberry.enum(RoleValue, name="Role", description="What a user may see and do.")


def user_by(key: Callable[[Any], uuid.UUID | None]) -> ToOne[Any, UserRow, User]:
    """The user a record names by ``key`` (schema/relations.py)."""
    return ToOne(key, lambda loaders: loaders.user, lambda row: User.from_row(row))


_MANAGER = user_by(lambda user: user.manager_id)


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

    @strawberry.field(description="Who this user reports to.", metadata=_MANAGER.metadata)
    def manager(self, info: Info) -> User | None:
        return _MANAGER.resolve(self, info)
