"""The root Subscription type (docs/real-time.md): committed events, each read again under the
subscriber's scope when it is delivered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.domain import LeadStatus as LeadStatusValue
from sales_graph.domain import OpportunityStage as OpportunityStageValue
from sales_graph.domain.periods import parse_period
from sales_graph.domain.scope import AccessScope
from sales_graph.events.fanout import LiveEvent
from sales_graph.resolvers.common import optional_id
from sales_graph.schema.changes import LeadChanged, OpportunityChanged
from sales_graph.schema.common import parse_id
from sales_graph.schema.forecasts import Forecast, Pipeline
from sales_graph.schema.live import StreamInfo, live_stream
from sales_graph.services import forecast_generation, forecasting, live
from sales_graph.services.live import Assignee as AssigneeValue


async def _opportunity(
    watch: live.OpportunityWatch, session: AsyncSession, scope: AccessScope, event: LiveEvent
) -> OpportunityChanged | None:
    found = await live.changed_opportunity(session, scope, event, watch)
    return OpportunityChanged.of(event, *found) if found else None


async def _lead(
    watch: live.LeadWatch, session: AsyncSession, scope: AccessScope, event: LiveEvent
) -> LeadChanged | None:
    found = await live.changed_lead(session, scope, event, watch)
    return LeadChanged.of(event, *found) if found else None


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Opportunities the caller sees being created, updated, moved to a stage or"
        " closed; the filters apply to the opportunity as it is when the event is delivered."
    )
    async def opportunity_changed(
        self,
        info: StreamInfo,
        owner_id: strawberry.ID | None = None,
        territory_id: strawberry.ID | None = None,
        stage: OpportunityStageValue | None = None,
    ) -> AsyncIterator[OpportunityChanged]:
        watch = live.OpportunityWatch(
            owner_id=optional_id(owner_id, "ownerId"),
            territory_id=optional_id(territory_id, "territoryId"),
            stage=stage.value if stage else None,
        )
        return await live_stream(
            info,
            frozenset({"opportunities"}),
            live.check_opportunity_watch,
            partial(_opportunity, watch),
        )

    @strawberry.subscription(
        description="Leads the caller sees being created, assigned, qualified or converted;"
        " `assignee` keeps those assigned to the caller (ME) or their team (MY_TEAM)."
    )
    async def lead_changed(
        self,
        info: StreamInfo,
        assigned_to: strawberry.ID | None = None,
        territory_id: strawberry.ID | None = None,
        status: LeadStatusValue | None = None,
        assignee: AssigneeValue | None = None,
    ) -> AsyncIterator[LeadChanged]:
        watch = live.LeadWatch(
            assigned_to_id=optional_id(assigned_to, "assignedTo"),
            territory_id=optional_id(territory_id, "territoryId"),
            status=status.value if status else None,
            assignee=assignee,
        )
        return await live_stream(
            info, frozenset({"leads"}), live.check_lead_watch, partial(_lead, watch)
        )

    @strawberry.subscription(
        description="An owner's pipeline in a period (as `pipeline` answers it) after each change"
        " of their opportunities, several changes in a short time answered once."
    )
    async def pipeline_changed(
        self, info: StreamInfo, owner_id: strawberry.ID, period: str
    ) -> AsyncIterator[Pipeline]:
        owner = parse_id(owner_id, "ownerId")
        span = parse_period(period, info.context.runtime.settings.fiscal_year_start_month)

        async def summary(
            session: AsyncSession, scope: AccessScope, event: LiveEvent
        ) -> Pipeline | None:
            if not await live.pipeline_change_visible(session, scope, event, owner):
                return None
            return Pipeline.from_result(await forecasting.pipeline(session, scope, owner, span))

        return await live_stream(
            info,
            frozenset({"opportunities"}),
            live.check_opportunity_watch,
            summary,
            relevant=lambda event: live.touches_owner(event, owner),
            coalesce_s=info.context.runtime.settings.subscriptions.coalesce_s,
        )

    @strawberry.subscription(
        description="The live forecasts of a period (as `forecasts` answers them, for one"
        " territory or all the caller reads) each time a forecast of theirs is updated."
    )
    async def forecast_updated(
        self, info: StreamInfo, period: str, territory_id: strawberry.ID | None = None
    ) -> AsyncIterator[list[Forecast]]:
        span = parse_period(period, info.context.runtime.settings.fiscal_year_start_month)
        territory = optional_id(territory_id, "territoryId")
        cache = info.context.runtime.forecast_cache

        async def forecasts(
            session: AsyncSession, scope: AccessScope, event: LiveEvent
        ) -> list[Forecast] | None:
            if not live.reads_forecast_of(scope, event):
                return None
            computed, _submitted = await forecast_generation.forecasts(
                session, scope, cache, span, territory, None
            )
            return [Forecast.from_computed(c) for c in computed]

        return await live_stream(
            info,
            frozenset({"forecasts"}),
            partial(live.check_forecast_watch, territory_id=territory),
            forecasts,
            relevant=lambda event: live.touches_forecast(event, span.name, territory),
            coalesce_s=info.context.runtime.settings.subscriptions.coalesce_s,
        )
