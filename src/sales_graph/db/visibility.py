"""An access scope as SQL: the WHERE clause every query of a protected table carries.

Each function here is the one definition of who sees a kind of record (docs/graphql.md, "Who
sees what"), and asks for the OAuth scope that gates that kind first: no read of the kind can
skip either. Repositories build every statement of a protected table from these clauses.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlmodel import col

from sales_graph.db.models import (
    Account,
    CommissionLine,
    Forecast,
    Lead,
    LeadCount,
    Opportunity,
    PipelineReportLine,
    Quota,
    TerritoryPerformanceLine,
)
from sales_graph.domain.scope import AccessScope


def _any(clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return or_(*clauses) if clauses else false()


def _owned(scope: AccessScope, owner: Any, territory: Any) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if scope.owner_ids:
        clauses.append(col(owner).in_(scope.owner_ids))
    if scope.territory_ids:
        clauses.append(col(territory).in_(scope.territory_ids))
    return clauses


def lead_visible(
    scope: AccessScope, on: type[Lead] | type[LeadCount] = Lead
) -> ColumnElement[bool]:
    """Which leads the scope sees: by their assignee and territory, the columns the lead counts
    are kept by too (``on=LeadCount`` for a total summed from them)."""
    scope.require_scope("leads:read")
    if scope.unrestricted:
        return true()
    clauses = _owned(scope, on.assigned_to_id, on.territory_id)
    if scope.unassigned_lead_territory_ids:
        clauses.append(
            and_(
                col(on.assigned_to_id).is_(None),
                col(on.territory_id).in_(scope.unassigned_lead_territory_ids),
            )
        )
    return _any(clauses)


def opportunity_clause(scope: AccessScope) -> ColumnElement[bool]:
    """Which opportunities the scope sees, without the scope gate: for aggregates whose own
    operation is gated (a forecast needs ``forecasts:read``, not ``opportunities:read``)."""
    if scope.unrestricted:
        return true()
    return _any(_owned(scope, Opportunity.owner_id, Opportunity.territory_id))


def opportunity_visible(scope: AccessScope) -> ColumnElement[bool]:
    scope.require_scope("opportunities:read")
    return opportunity_clause(scope)


def account_visible(scope: AccessScope) -> ColumnElement[bool]:
    """Owned accounts, and the account of every visible opportunity (a deal's owner reads
    the account the deal is with, as Salesforce's implicit parent sharing has it)."""
    scope.require_scope("accounts:read")
    if scope.unrestricted:
        return true()
    clauses = _owned(scope, Account.owner_id, Account.territory_id)
    if scope.owner_ids or scope.territory_ids:
        clauses.append(
            exists(
                select(Opportunity.id).where(  # type: ignore[call-overload]
                    col(Opportunity.account_id) == col(Account.id), opportunity_clause(scope)
                )
            )
        )
    return _any(clauses)


def quota_visible(scope: AccessScope) -> ColumnElement[bool]:
    scope.require_scope("quotas:read")
    if scope.unrestricted:
        return true()
    return _any(_owned(scope, Quota.user_id, Quota.territory_id))


def submitted_forecast_visible(scope: AccessScope) -> ColumnElement[bool]:
    """A manager's submitted number: for whoever sees the whole territory it is about."""
    scope.require_scope("forecasts:read")
    if scope.unrestricted:
        return true()
    if not scope.territory_ids:
        return false()
    return col(Forecast.territory_id).in_(scope.territory_ids)


def commission_visible(scope: AccessScope) -> ColumnElement[bool]:
    """Commission lines are people's pay: a rep's own, a manager's team's (not a territory's
    other owners'), every line for an admin and a partner holding ``commissions:read``."""
    scope.require_scope("commissions:read")
    if scope.unrestricted:
        return true()
    if not scope.owner_ids:
        return false()
    return col(CommissionLine.owner_id).in_(scope.owner_ids)


def pipeline_report_visible(scope: AccessScope) -> ColumnElement[bool]:
    """A line of the pipeline report sums opportunities of one owner in one territory: seen
    by whoever sees those opportunities (the owner, their managers, the territory's owner)."""
    scope.require_scope("forecasts:read")
    if scope.unrestricted:
        return true()
    return _any(_owned(scope, PipelineReportLine.owner_id, PipelineReportLine.territory_id))


def territory_performance_visible(scope: AccessScope) -> ColumnElement[bool]:
    """Territory-wide figures: for whoever sees the whole territory (as submitted forecasts)."""
    scope.require_scope("forecasts:read")
    if scope.unrestricted:
        return true()
    if not scope.territory_ids:
        return false()
    return col(TerritoryPerformanceLine.territory_id).in_(scope.territory_ids)


def users_readable(scope: AccessScope) -> None:
    """The directory: every user principal reads it; clients need ``users:read``."""
    scope.require_scope("users:read")


def territories_readable(scope: AccessScope) -> None:
    """The organisation's map: every user principal reads it; clients need the scope."""
    scope.require_scope("territories:read")
