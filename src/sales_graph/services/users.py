"""Users and who the caller is."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.auth.principal import Principal
from sales_graph.db.models import User
from sales_graph.db.repositories import users
from sales_graph.errors import NotFound, Unauthorized


async def current_user(session: AsyncSession, principal: Principal | None) -> User:
    if principal is None:
        raise Unauthorized()
    if principal.user_id is None:
        raise NotFound("This caller is a partner client, not a user")
    user = await users.get(session, principal.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("The token's user does not exist or is inactive")
    return user
