"""Stored forecasts (submitted by managers, or generated) and quotas."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Forecast, Quota
from sales_graph.db.repositories.rows import add
from sales_graph.db.visibility import quota_visible as _quota_visible
from sales_graph.db.visibility import submitted_forecast_visible
from sales_graph.domain.scope import AccessScope

add_forecast = add


async def submitted(
    session: AsyncSession,
    scope: AccessScope,
    *,
    period: str,
    territory_ids: Sequence[uuid.UUID] | None,
    forecast_type: str | None,
) -> list[Forecast]:
    """The forecasts managers submitted, as far as the scope sees them."""
    statement = select(Forecast).where(
        submitted_forecast_visible(scope), Forecast.period == period, Forecast.kind == "submitted"
    )
    if territory_ids is not None:
        statement = statement.where(col(Forecast.territory_id).in_(territory_ids))
    if forecast_type is not None:
        statement = statement.where(Forecast.forecast_type == forecast_type)
    statement = statement.order_by(col(Forecast.created_at).desc(), col(Forecast.id))
    return list((await session.exec(statement)).all())


async def quota_visible(
    session: AsyncSession, scope: AccessScope, quota_id: uuid.UUID, *, for_update: bool = False
) -> Quota | None:
    statement = select(Quota).where(col(Quota.id) == quota_id, _quota_visible(scope))
    if for_update:
        statement = statement.with_for_update()
    return (await session.exec(statement)).first()


async def quota_for(
    session: AsyncSession,
    scope: AccessScope,
    period: str,
    user_id: uuid.UUID | None,
    territory_id: uuid.UUID | None,
) -> Quota | None:
    statement = select(Quota).where(
        _quota_visible(scope),
        Quota.period == period,
        and_(
            col(Quota.user_id).is_(None) if user_id is None else col(Quota.user_id) == user_id,
            col(Quota.territory_id).is_(None)
            if territory_id is None
            else col(Quota.territory_id) == territory_id,
        ),
    )
    return (await session.exec(statement)).first()


async def quotas(
    session: AsyncSession,
    scope: AccessScope,
    *,
    period: str | None,
    user_id: uuid.UUID | None,
    territory_id: uuid.UUID | None,
) -> list[Quota]:
    statement = select(Quota).where(_quota_visible(scope))
    if period is not None:
        statement = statement.where(Quota.period == period)
    if user_id is not None:
        statement = statement.where(col(Quota.user_id) == user_id)
    if territory_id is not None:
        statement = statement.where(col(Quota.territory_id) == territory_id)
    statement = statement.order_by(col(Quota.period), col(Quota.created_at), col(Quota.id))
    return list((await session.exec(statement)).all())


add_quota = add


async def unattained_for(
    session: AsyncSession,
    scope: AccessScope,
    user_id: uuid.UUID | None,
    territory_id: uuid.UUID | None,
) -> list[Quota]:
    """The quotas of this user or territory not attained yet, locked (a win may attain them)."""
    targets: list[ColumnElement[bool]] = []
    if user_id is not None:
        targets.append(col(Quota.user_id) == user_id)
    if territory_id is not None:
        targets.append(col(Quota.territory_id) == territory_id)
    if not targets:
        return []
    statement = (
        select(Quota)
        .where(_quota_visible(scope), col(Quota.attained_at).is_(None), or_(*targets))
        .order_by(col(Quota.id))
        .with_for_update()
    )
    return list((await session.exec(statement)).all())
