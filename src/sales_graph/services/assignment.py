"""The assignment engine of DESIGN.md: a lead goes to the first active territory whose rules
match (in territory priority order, then rule order), then to a member of that territory by
round robin among the members with capacity. Concurrent assignments queue on the territory's
row lock, so no two leads are handed the same turn."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Lead, LeadAssignment, Territory, TerritoryRule
from sales_graph.db.repositories import leads as lead_repo
from sales_graph.db.repositories import territories as territory_repo
from sales_graph.db.repositories.territories import Candidate
from sales_graph.domain import AssignmentMethod
from sales_graph.domain.scope import AccessScope
from sales_graph.events import payloads
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


async def territory_for_lead(session: AsyncSession, lead: Lead) -> Territory | None:
    # The rules decide where a lead goes, whoever created it.
    system = AccessScope.as_system("territory rules")
    territories = await territory_repo.active_in_order(session, system)
    rules: dict[uuid.UUID, list[TerritoryRule]] = defaultdict(list)
    for rule in await territory_repo.rules_of(session, system, [t.id for t in territories]):
        rules[rule.territory_id].append(rule)
    for territory in territories:
        if any(rule_matches(rule, lead) for rule in rules[territory.id]):
            return territory
    return None


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
    now = utcnow()
    previous_territory_id, previous_rep_id = lead.territory_id, lead.assigned_to_id
    record = LeadAssignment(
        lead_id=lead.id,
        territory_id=territory.id if territory else None,
        assigned_to_id=rep_id,
        previous_assigned_to_id=lead.assigned_to_id,
        actor_id=actor_id,
        method=method,
        reason=reason,
        assigned_at=now,
    )
    lead.territory_id = territory.id if territory else None
    lead.assigned_to_id = rep_id
    lead.assigned_at = now
    lead.updated_at = now
    lead.version += 1
    session.add(lead)
    await lead_repo.record_assignment(session, record)
    await record_event(
        session,
        "lead.assigned",
        lead.id,
        payloads.lead_assigned(
            lead,
            previous_territory_id=previous_territory_id,
            previous_assigned_to=previous_rep_id,
            method=method,
            reason=reason,
        ),
        actor_id=actor_id,
    )
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
    reason = f"Matched the rules of territory {territory.name}"
    if rep_id is None:
        reason += "; no member with capacity, left unassigned"
    return await assign(
        session,
        lead,
        territory=territory,
        rep_id=rep_id,
        actor_id=actor_id,
        method="round_robin" if rep_id else "rules",
        reason=reason,
    )
