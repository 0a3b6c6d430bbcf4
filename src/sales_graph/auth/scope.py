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
    # A partner client sees everything its scopes allow; users are governed by their role.
    scopes: frozenset[str] = frozenset()
    is_partner: bool = False

    @property
    def actor_id(self) -> uuid.UUID | None:
        return self.principal.user_id

    @property
    def role(self) -> Role | None:
        return self.principal.role

    def require_scope(self, scope: str) -> None:
        """Partners need the OAuth scope of the operation; users pass (their role decides)."""
        if self.is_partner and scope not in self.scopes:
            raise Forbidden(
                f"This operation needs the scope '{scope}'", details={"required_scope": scope}
            )

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden(
                "This operation needs one of the roles: " + ", ".join(r.value for r in roles),
                details={"required_roles": [r.value for r in roles]},
            )
