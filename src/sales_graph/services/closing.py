"""What a close records besides the stage: won/lost, and for a win the Billing and Operations
events and the quotas it attains. Called by ``opportunities.update_stage`` only."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Opportunity
from sales_graph.db.repositories import accounts as account_repo
from sales_graph.db.repositories import opportunities as opportunity_repo
from sales_graph.db.repositories import users as user_repo
from sales_graph.domain import OpportunityStage
from sales_graph.domain.scope import AccessScope
from sales_graph.events import payloads
from sales_graph.events.outbox import record as record_event
from sales_graph.services import quotas


async def record_close(
    session: AsyncSession,
    opportunity: Opportunity,
    *,
    actor_id: uuid.UUID | None,
    fiscal_year_start_month: int,
) -> None:
    won = opportunity.stage == OpportunityStage.CLOSED_WON.value
    await record_event(
        session,
        "opportunity.won" if won else "opportunity.lost",
        opportunity.id,
        payloads.closed(opportunity),
        actor_id=actor_id,
    )
    if not won:
        return
    # Billing and Operations get the whole deal, whatever the closing caller may read of it.
    system = AccessScope.as_system("close-won events")
    products = await opportunity_repo.products_of(session, system, [opportunity.id])
    owner = await user_repo.get(session, system, opportunity.owner_id)
    account = await account_repo.get(session, system, opportunity.account_id)
    assert owner is not None  # foreign key
    assert account is not None
    contacts = await account_repo.contacts_of(session, system, [account.id])
    await record_event(
        session,
        "opportunity.closed_won",
        opportunity.id,
        payloads.closed_won(opportunity, products, owner),
        actor_id=actor_id,
    )
    await record_event(
        session,
        "onboarding.trigger",
        opportunity.id,
        payloads.onboarding(opportunity, account, products, contacts),
        actor_id=actor_id,
    )
    if opportunity.expected_close_date is not None:
        await quotas.check_attained_on(
            session,
            opportunity.expected_close_date,
            user_id=opportunity.owner_id,
            territory_id=opportunity.territory_id,
            actor_id=actor_id,
            fiscal_year_start_month=fiscal_year_start_month,
        )
