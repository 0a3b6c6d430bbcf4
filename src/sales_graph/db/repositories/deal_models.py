"""Versions of the deal-score model."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import DealScoreModel
from sales_graph.db.repositories.rows import add as add


async def latest(session: AsyncSession) -> DealScoreModel | None:
    statement = select(DealScoreModel).order_by(col(DealScoreModel.created_at).desc()).limit(1)
    return (await session.exec(statement)).first()
