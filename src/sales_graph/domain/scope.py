"""What a caller may see and do, as data: built by ``services.access``, turned into SQL by ``db``.

Every repository function that reads or writes a sales record takes an ``AccessScope``. A
caller's scope comes from ``services.access.scope_for``; code that acts as the system itself
(consumers, the scheduler, the seed, the CLI) asks for ``AccessScope.as_system(reason)``, and
that call is the only way to an unrestricted read that no principal is behind.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sales_graph.domain import Role
from sales_graph.domain.permissions import KNOWN_SCOPES
from sales_graph.domain.principal import Principal
from sales_graph.errors import Forbidden

SYSTEM_SUBJECT_PREFIX = "system:"


@dataclass(frozen=True, slots=True)
class AccessScope:
    principal: Principal
    unrestricted: bool = False
    # Records owned by (assigned to) these users are visible: the caller's team.
    owner_ids: frozenset[uuid.UUID] = frozenset()
    # Every record of these territories is visible (a manager's own territories).
    territory_ids: frozenset[uuid.UUID] = frozenset()
    # Unassigned leads of these territories are visible (a rep's territories).
    unassigned_lead_territory_ids: frozenset[uuid.UUID] = frozenset()
    # Territories whose forecasts the caller reads (computed over what the caller sees).
    forecast_territory_ids: frozenset[uuid.UUID] = frozenset()
    # The OAuth scopes granted: every scope for a user's own token; a partner's or a
    # user-bound client's scopes otherwise. Each readable type is gated by one of them.
    scopes: frozenset[str] = KNOWN_SCOPES
    is_partner: bool = False

    @classmethod
    def as_system(cls, reason: str) -> AccessScope:
        """Unrestricted, for code acting as sales-graph itself; ``reason`` names that code."""
        return cls(Principal(subject=SYSTEM_SUBJECT_PREFIX + reason), unrestricted=True)

    @property
    def is_system(self) -> bool:
        return self.principal.subject.startswith(SYSTEM_SUBJECT_PREFIX)

    @property
    def actor_id(self) -> uuid.UUID | None:
        return self.principal.user_id

    @property
    def role(self) -> Role | None:
        return self.principal.role

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def require_scope(self, scope: str) -> None:
        """FORBIDDEN unless the caller holds ``scope`` (a user's own token holds them all)."""
        if scope not in self.scopes:
            raise Forbidden(
                f"This operation needs the scope '{scope}'", details={"required_scope": scope}
            )

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            raise Forbidden(
                "This operation needs one of the roles: " + ", ".join(r.value for r in roles),
                details={"required_roles": [r.value for r in roles]},
            )

    def sees_territory(self, territory_id: uuid.UUID | None) -> bool:
        """Whether every record of the territory is visible (so territory-wide figures are)."""
        return self.unrestricted or (
            territory_id is not None and territory_id in self.territory_ids
        )
