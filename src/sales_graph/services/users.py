"""Users and who the caller is."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import User
from sales_graph.db.paging import PageRequest
from sales_graph.db.repositories import users
from sales_graph.domain.principal import Principal
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import NotFound, Unauthorized


async def current_user(session: AsyncSession, principal: Principal | None) -> User:
    if principal is None:
        raise Unauthorized()
    if principal.user_id is None:
        raise NotFound("This caller is a partner client, not a user")
    # The caller's own record: no directory scope is needed to read it.
    user = await users.get(
        session, AccessScope.as_system("the caller's own user"), principal.user_id
    )
    if user is None or not user.is_active:
        raise Unauthorized("The token's user does not exist or is inactive")
    return user


async def list_users(
    session: AsyncSession,
    scope: AccessScope,
    *,
    role: str | None,
    is_active: bool | None,
    page: PageRequest,
) -> list[User]:
    return await users.listing(
        session, scope, role=role, is_active=is_active, limit=page.limit, offset=page.offset
    )
