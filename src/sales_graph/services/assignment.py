"""The assignment engine of DESIGN.md: a lead goes to the first active territory whose rules
match (in territory priority order, then rule order), then to a member of that territory by
round robin among the members with capacity. Concurrent assignments queue on the territory's
row lock, so no two leads are handed the same turn."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Lead, LeadAssignment, Territory, TerritoryRule
from sales_graph.db.repositories import leads as lead_repo
from sales_graph.db.repositories import territories as territory_repo
from sales_graph.db.repositories.territories import Candidate
from sales_graph.domain import AssignmentMethod
from sales_graph.domain.scope import AccessScope
from sales_graph.events import payloads
from sales_graph.events.models import LeadAssigned
from sales_graph.events.outbox import record as record_event
from sales_graph.timeutil import utcnow

# A bound of a territory rule: a headcount or a revenue.
Bound = TypeVar("Bound", int, Decimal)


def rule_matches(rule: TerritoryRule, lead: Lead) -> bool:
    """Every condition the rule sets must hold; a rule that sets none matches every lead."""
    if rule.country is not None and (lead.country or "").upper() != rule.country.upper():
        return False
    if rule.region is not None and (lead.region or "").lower() != rule.region.lower():
        return False
    if rule.industry is not None and (lead.industry or "").lower() != rule.industry.lower():
        return False
    return _within(
        lead.employee_count, rule.employee_count_min, rule.employee_count_max
    ) and _within(lead.annual_revenue, rule.annual_revenue_min, rule.annual_revenue_max)


def _within(value: Bound | None, low: Bound | None, high: Bound | None) -> bool:
    """A range the rule sets (either end may be open) holds only for a known value inside it."""
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def choose_rep(candidates: Sequence[Candidate]) -> Candidate | None:
    """Round robin: fewest turns first; fewest open leads, then member order, break ties."""
    eligible = [c for c in candidates if c.has_capacity]
    if not eligible:
        return None
    return min(eligible, key=lambda c: (c.turns, c.open_leads, c.position))


@dataclass(frozen=True, slots=True)
class Routing:
    """The active territories in the order leads are routed through them, with their rules."""

    territories: list[Territory]
    rules: dict[uuid.UUID, list[TerritoryRule]]

    @classmethod
    async def read(cls, session: AsyncSession) -> Routing:
        # The rules decide where a lead goes, whoever created it.
        system = AccessScope.as_system("territory rules")
        territories = await territory_repo.active_in_order(session, system)
        rules: dict[uuid.UUID, list[TerritoryRule]] = defaultdict(list)
        for rule in await territory_repo.rules_of(session, system, [t.id for t in territories]):
            rules[rule.territory_id].append(rule)
        return cls(territories, rules)

    def territory_for(self, lead: Lead) -> Territory | None:
        for territory in self.territories:
            if any(rule_matches(rule, lead) for rule in self.rules[territory.id]):
                return territory
        return None


async def territory_for_lead(session: AsyncSession, lead: Lead) -> Territory | None:
    return (await Routing.read(session)).territory_for(lead)


async def next_rep(session: AsyncSession, territory_id: uuid.UUID) -> uuid.UUID | None:
    await territory_repo.lock_for_assignment(session, territory_id)
    chosen = choose_rep(await territory_repo.candidates(session, territory_id))
    if chosen is None:
        return None
    await territory_repo.take_turn(session, territory_id, chosen.user_id)
    return chosen.user_id


@dataclass(frozen=True, slots=True)
class Assignment:
    record: LeadAssignment
    lead: Lead


def assigned_in_memory(
    lead: Lead,
    *,
    territory: Territory | None,
    rep_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    method: AssignmentMethod,
    reason: str | None,
) -> tuple[dict[str, Any], LeadAssigned]:
    """The lead given its territory and rep (not saved): the columns of the assignment's
    record and the ``lead.assigned`` payload."""
    now = utcnow()
    previous_territory_id, previous_rep_id = lead.territory_id, lead.assigned_to_id
    record = {
        "id": uuid.uuid4(),
        "lead_id": lead.id,
        "territory_id": territory.id if territory else None,
        "assigned_to_id": rep_id,
        "previous_assigned_to_id": previous_rep_id,
        "actor_id": actor_id,
        "method": method,
        "reason": reason,
        "assigned_at": now,
    }
    lead.territory_id = territory.id if territory else None
    lead.assigned_to_id = rep_id
    lead.assigned_at = now
    lead.updated_at = now
    lead.version += 1
    payload = payloads.lead_assigned(
        lead,
        previous_territory_id=previous_territory_id,
        previous_assigned_to=previous_rep_id,
        method=method,
        reason=reason,
    )
    return record, payload


async def assign(
    session: AsyncSession,
    lead: Lead,
    *,
    territory: Territory | None,
    rep_id: uuid.UUID | None,
    actor_id: uuid.UUID | None,
    method: AssignmentMethod,
    reason: str | None,
) -> Assignment:
    """Sets the lead's territory and rep and records who did it, when and why."""
    previous_territory_id, previous_rep_id = lead.territory_id, lead.assigned_to_id
    values, assigned = assigned_in_memory(
        lead, territory=territory, rep_id=rep_id, actor_id=actor_id, method=method, reason=reason
    )
    session.add(lead)
    record = await lead_repo.record_assignment(session, LeadAssignment(**values))
    await record_event(session, "lead.assigned", lead.id, assigned, actor_id=actor_id)
    if method == "manual":
        await record_event(
            session,
            "territory.assignment_changed",
            lead.territory_id or previous_territory_id or lead.id,
            payloads.assignment_changed(
                lead,
                previous_territory_id=previous_territory_id,
                previous_assigned_to=previous_rep_id,
                reason=reason,
            ),
            actor_id=actor_id,
        )
    return Assignment(record, lead)


async def assign_automatically(
    session: AsyncSession, lead: Lead, *, actor_id: uuid.UUID | None
) -> Assignment | None:
    territory = await territory_for_lead(session, lead)
    if territory is None:
        return None
    rep_id = await next_rep(session, territory.id)
    method, reason = automatic_method(territory, rep_id)
    return await assign(
        session,
        lead,
        territory=territory,
        rep_id=rep_id,
        actor_id=actor_id,
        method=method,
        reason=reason,
    )


def automatic_method(
    territory: Territory, rep_id: uuid.UUID | None
) -> tuple[AssignmentMethod, str]:
    reason = f"Matched the rules of territory {territory.name}"
    if rep_id is None:
        reason += "; no member with capacity, left unassigned"
    return ("round_robin" if rep_id else "rules"), reason


@dataclass
class _Pool:
    """A territory's members as one batch locked and read them, and its assignments since."""

    candidates: list[Candidate]
    assignments: int = 1


class BatchAssigner:
    """:func:`assign_automatically` for the leads of one transaction, with the statements of
    a batch: the routing read once, each territory locked and its members read at its first
    assignment; the turns and open leads of the batch's own assignments counted in memory (so
    every choice is the one a lead-by-lead run would make) and written by :meth:`write`."""

    def __init__(self, routing: Routing) -> None:
        self._routing = routing
        self._pools: dict[uuid.UUID, _Pool] = {}
        self._turns: dict[tuple[uuid.UUID, uuid.UUID], int] = defaultdict(int)
        self._open: dict[uuid.UUID, int] = defaultdict(int)

    @classmethod
    async def read(cls, session: AsyncSession) -> BatchAssigner:
        return cls(await Routing.read(session))

    async def assign_automatically(
        self, session: AsyncSession, lead: Lead, *, actor_id: uuid.UUID | None
    ) -> tuple[dict[str, Any], LeadAssigned] | None:
        """The lead assigned in memory (the caller saves it): the record and the payload."""
        territory = self._routing.territory_for(lead)
        if territory is None:
            return None
        rep_id = await self._next_rep(session, territory.id)
        method, reason = automatic_method(territory, rep_id)
        previous_rep_id = lead.assigned_to_id
        assigned = assigned_in_memory(
            lead,
            territory=territory,
            rep_id=rep_id,
            actor_id=actor_id,
            method=method,
            reason=reason,
        )
        if lead.status in territory_repo.OPEN_LEAD_STATUSES:
            if previous_rep_id is not None:
                self._open[previous_rep_id] -= 1
            if rep_id is not None:
                self._open[rep_id] += 1
        return assigned

    async def _next_rep(self, session: AsyncSession, territory_id: uuid.UUID) -> uuid.UUID | None:
        pool = self._pools.get(territory_id)
        if pool is None:
            if not self._pools:  # every territory the batch may use, in one order
                await territory_repo.lock_in_order(
                    session, [t.id for t in self._routing.territories]
                )
            await territory_repo.lock_for_assignment(session, territory_id)
            pool = _Pool(await territory_repo.candidates(session, territory_id))
            self._pools[territory_id] = pool
        else:
            pool.assignments += 1
        now = [
            replace(
                c,
                turns=c.turns + self._turns[(territory_id, c.user_id)],
                open_leads=c.open_leads + self._open[c.user_id],
            )
            for c in pool.candidates
        ]
        chosen = choose_rep(now)
        if chosen is None:
            return None
        self._turns[(territory_id, chosen.user_id)] += 1
        return chosen.user_id

    async def write(self, session: AsyncSession) -> None:
        """The territories' sequences and the members' turns of the batch's assignments."""
        for territory_id, pool in self._pools.items():
            if pool.assignments > 1:  # the first one advanced it when it locked the row
                await territory_repo.lock_for_assignment(
                    session, territory_id, pool.assignments - 1
                )
        await territory_repo.take_turns(session, {k: n for k, n in self._turns.items() if n})
