"""The demo organisation seeds on both databases and holds what DESIGN.md promises."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func
from sqlmodel import col, select

from sales_graph.db.engine import Database
from sales_graph.db.migrate import upgrade
from sales_graph.db.models import Lead, Opportunity, Territory, TerritoryRule, User
from sales_graph.domain import LeadStatus, OpportunityStage, Role
from sales_graph.seed import seed_demo


async def test_demo_covers_roles_stages_and_quarters(fresh_database: str) -> None:
    db = Database(fresh_database)
    try:
        await upgrade(db.engine)
        async with db.session() as session:
            summary = await seed_demo(session, today=date(2026, 2, 11))
        assert summary.leads >= 200
        assert summary.opportunities >= 200
        async with db.session() as session:
            roles = set((await session.exec(select(User.role).distinct())).all())
            stages = set((await session.exec(select(Opportunity.stage).distinct())).all())
            statuses = set((await session.exec(select(Lead.status).distinct())).all())
            closes = (
                await session.exec(
                    select(
                        func.min(Opportunity.expected_close_date),
                        func.max(Opportunity.expected_close_date),
                    ).where(col(Opportunity.closed_at).is_(None))
                )
            ).one()
            closed = (
                await session.exec(
                    select(Opportunity.stage, func.count())
                    .where(col(Opportunity.expected_close_date) < date(2026, 1, 1))
                    .group_by(Opportunity.stage)
                )
            ).all()
            catch_all = (
                await session.exec(
                    select(func.count())
                    .select_from(TerritoryRule)
                    .join(Territory, col(Territory.id) == TerritoryRule.territory_id)
                    .where(
                        col(TerritoryRule.country).is_(None),
                        col(TerritoryRule.region).is_(None),
                        col(TerritoryRule.industry).is_(None),
                    )
                )
            ).one()
        assert roles == {r.value for r in Role}
        assert stages == {s.value for s in OpportunityStage}
        assert {LeadStatus.NEW.value, LeadStatus.QUALIFIED.value} <= statuses
        assert closes[0] >= date(2026, 1, 1)
        assert closes[1] <= date(2026, 6, 30)
        assert closes[1] >= date(2026, 4, 1)  # the next quarter is there too
        assert catch_all == 1
        # A year of closed history, won and lost, for `sales-graph model train`.
        assert dict(closed).keys() == {"closed_won", "closed_lost"}
        assert sum(n for _, n in closed) == 400
    finally:
        await db.dispose()
