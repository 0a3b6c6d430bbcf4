"""Versions of the deal-score model."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import DealScoreModel


async def latest(session: AsyncSession) -> DealScoreModel | None:
    statement = select(DealScoreModel).order_by(col(DealScoreModel.created_at).desc()).limit(1)
    return (await session.exec(statement)).first()


async def add(session: AsyncSession, model: DealScoreModel) -> None:
    session.add(model)
    await session.flush()
