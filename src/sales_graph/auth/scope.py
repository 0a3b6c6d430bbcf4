"""What a caller may see, as data: built by ``services.access``, turned into SQL by ``db``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sales_graph.auth.principal import Principal
from sales_graph.domain import Role
from sales_graph.errors import Forbidden


@dataclass(frozen=True, slots=True)
class AccessScope:
    principal: Principal
    unrestricted: bool = False
    # Records owned by (assigned to) these users are visible.
    owner_ids: frozenset[uuid.UUID] = frozenset()
    # Every record of these territories is visible (a manager's own territories).
    territory_ids: frozenset[uuid.UUID] = frozenset()
    # Unassigned leads of these territories are visible (a rep's territories).
    unassigned_lead_territory_ids: frozenset[uuid.UUID] = frozenset()

    @property
    def actor_id(self) -> uuid.UUID | None:
        return self.principal.user_id

    @property
    def role(self) -> Role | None:
        return self.principal.role

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden(
                "This operation needs one of the roles: " + ", ".join(r.value for r in roles),
                details={"required_roles": [r.value for r in roles]},
            )
