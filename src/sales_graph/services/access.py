"""Who may see what: the access scope of a principal, computed once per request.

The rules (docs/graphql.md, "Who sees what"): a ``sales_rep`` sees what they own and the
unassigned leads of the territories they are a member of; a ``sales_manager`` sees what their
team owns (themselves and their reports, recursively) and everything in the territories they
own; an ``admin`` sees everything; a partner client (no user) sees the whole organisation. The
OAuth scopes then limit every caller that holds them (partners, and users acting through a
client or an API key). ``db.visibility`` turns a scope into WHERE clauses, so lists, look-ups by
id, nested fields and aggregates all obey the same rule.

The principal's role and active status were read from the database when the request was
authenticated (``auth.authenticator``); the team and territories are read here, now.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.repositories import territories, users
from sales_graph.domain import Role
from sales_graph.domain.permissions import KNOWN_SCOPES
from sales_graph.domain.principal import Principal
from sales_graph.domain.scope import AccessScope
from sales_graph.errors import Forbidden, Unauthorized

__all__ = ["AccessScope", "scope_for"]


async def scope_for(session: AsyncSession, principal: Principal | None) -> AccessScope:
    if principal is None:
        raise Unauthorized()
    scopes = principal.scopes & KNOWN_SCOPES if principal.scoped else KNOWN_SCOPES
    if principal.is_partner:
        # Partner clients act across the organisation, limited by their scopes.
        return AccessScope(principal, unrestricted=True, is_partner=True, scopes=scopes)
    if principal.user_id is None or principal.role is None:
        raise Forbidden("This caller has no user role")
    if principal.role is Role.ADMIN:
        return AccessScope(principal, unrestricted=True, scopes=scopes)
    member_of = frozenset(await territories.with_member(session, principal.user_id))
    if principal.role is Role.SALES_MANAGER:
        owned = frozenset(await territories.owned_by(session, principal.user_id))
        return AccessScope(
            principal,
            owner_ids=frozenset(await users.team_of(session, principal.user_id)),
            territory_ids=owned,
            forecast_territory_ids=owned | member_of,
            scopes=scopes,
        )
    return AccessScope(
        principal,
        owner_ids=frozenset({principal.user_id}),
        unassigned_lead_territory_ids=member_of,
        forecast_territory_ids=member_of,
        scopes=scopes,
    )
