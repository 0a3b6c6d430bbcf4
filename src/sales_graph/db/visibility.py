"""An access scope as SQL: the WHERE clause every query of a protected table carries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true
from sqlmodel import col

from sales_graph.auth.scope import AccessScope
from sales_graph.db.models import Account, Lead, Opportunity


def _any(clauses: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    return or_(*clauses) if clauses else false()


def _owned(scope: AccessScope, owner: Any, territory: Any) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if scope.owner_ids:
        clauses.append(col(owner).in_(scope.owner_ids))
    if scope.territory_ids:
        clauses.append(col(territory).in_(scope.territory_ids))
    return clauses


def lead_visible(scope: AccessScope) -> ColumnElement[bool]:
    if scope.unrestricted:
        return true()
    clauses = _owned(scope, Lead.assigned_to_id, Lead.territory_id)
    if scope.unassigned_lead_territory_ids:
        clauses.append(
            and_(
                col(Lead.assigned_to_id).is_(None),
                col(Lead.territory_id).in_(scope.unassigned_lead_territory_ids),
            )
        )
    return _any(clauses)


def account_visible(scope: AccessScope) -> ColumnElement[bool]:
    if scope.unrestricted:
        return true()
    return _any(_owned(scope, Account.owner_id, Account.territory_id))


def opportunity_visible(scope: AccessScope) -> ColumnElement[bool]:
    if scope.unrestricted:
        return true()
    return _any(_owned(scope, Opportunity.owner_id, Opportunity.territory_id))
