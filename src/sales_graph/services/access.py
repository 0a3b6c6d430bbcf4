"""Who may see what: the access scope of a principal, computed once per request.

The rules of DESIGN.md section 6: a ``sales_rep`` sees what they own and the unassigned leads
of the territories they are a member of; a ``sales_manager`` sees what their team owns
(themselves and their reports, recursively) and everything in the territories they own; an
``admin`` sees everything; a partner client (no user) sees everything its OAuth scopes allow,
checked per operation with ``AccessScope.require_scope``. Repositories turn a scope into WHERE
clauses, so lists, look-ups by id, nested fields and aggregates all obey the same rule.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.auth.principal import Principal
from sales_graph.auth.scope import AccessScope
from sales_graph.db.repositories import territories, users
from sales_graph.domain import Role
from sales_graph.errors import Forbidden, Unauthorized

__all__ = ["AccessScope", "scope_for"]


async def scope_for(session: AsyncSession, principal: Principal | None) -> AccessScope:
    if principal is None:
        raise Unauthorized()
    if principal.is_partner:
        # Partner clients act across the organisation, limited by their scopes.
        return AccessScope(principal, unrestricted=True, is_partner=True, scopes=principal.scopes)
    if principal.user_id is None or principal.role is None:
        raise Forbidden("This caller has no user role")
    user = await users.get(session, principal.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("The token's user does not exist or is inactive")
    if principal.role is Role.ADMIN:
        return AccessScope(principal, unrestricted=True)
    if principal.role is Role.SALES_MANAGER:
        return AccessScope(
            principal,
            owner_ids=frozenset(await users.team_of(session, user.id)),
            territory_ids=frozenset(await territories.owned_by(session, user.id)),
        )
    return AccessScope(
        principal,
        owner_ids=frozenset({user.id}),
        unassigned_lead_territory_ids=frozenset(await territories.with_member(session, user.id)),
    )
