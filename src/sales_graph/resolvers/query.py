"""The root Query type."""

from __future__ import annotations

import strawberry

from sales_graph import __version__
from sales_graph.schema.context import Info
from sales_graph.schema.system import Health
from sales_graph.schema.users import User
from sales_graph.services import users


@strawberry.type
class Query:
    @strawberry.field(description="The gateway answers.")
    def health(self) -> Health:
        return Health(status="ok", version=__version__)

    @strawberry.field(description="The authenticated user.")
    async def me(self, info: Info) -> User:
        row = await users.current_user(info.context.session, info.context.principal)
        return User.from_row(row)
