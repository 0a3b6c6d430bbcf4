"""Queries and mutations of opportunities, the pipeline, forecasts and quotas."""

from __future__ import annotations

from typing import Annotated

import strawberry

from sales_graph.db.repositories.opportunities import OpportunityFilter
from sales_graph.domain import ForecastType as ForecastTypeValue
from sales_graph.domain import OpportunityStage as OpportunityStageValue
from sales_graph.domain.periods import Period, parse_period
from sales_graph.resolvers.common import mutate, optional_id, page_of, paging, read
from sales_graph.schema.common import input_values, parse_id
from sales_graph.schema.context import Info
from sales_graph.schema.forecasts import (
    CreateForecastInput,
    Forecast,
    Pipeline,
    Quota,
    SetQuotaInput,
    UpdateQuotaInput,
)
from sales_graph.schema.opportunities import (
    ContractTermsInput,
    ConvertLeadInput,
    CreateOpportunityInput,
    DateRange,
    Opportunity,
    OpportunityConnection,
    OpportunityOrder,
    UpdateOpportunityInput,
)
from sales_graph.services import (
    conversion,
    forecast_generation,
    forecasting,
    opportunities,
    quotas,
)
from sales_graph.services.validation import invalid, parse


def _period(info: Info, name: str) -> Period:
    return parse_period(name, info.context.runtime.settings.fiscal_year_start_month)


@strawberry.type
class OpportunityQueries:
    @strawberry.field(description="The opportunities the caller may see, filtered and paged.")
    async def opportunities(
        self,
        info: Info,
        stage: OpportunityStageValue | None = None,
        owner_id: strawberry.ID | None = None,
        expected_close_date_range: DateRange | None = None,
        limit: int | None = None,
        offset: int | None = None,
        account_id: strawberry.ID | None = None,
        territory_id: strawberry.ID | None = None,
        order_by: OpportunityOrder = OpportunityOrder.CREATED_AT_DESC,
        first: int | None = None,
        after: str | None = None,
    ) -> OpportunityConnection:
        page = paging(info, limit=limit, offset=offset, first=first, after=after)
        span = expected_close_date_range
        if span and span.start and span.end and span.start > span.end:
            raise invalid("expected_close_date_range", "start is after end")
        where = OpportunityFilter(
            stage=stage.value if stage else None,
            owner_id=optional_id(owner_id, "ownerId"),
            account_id=optional_id(account_id, "accountId"),
            territory_id=optional_id(territory_id, "territoryId"),
            close_from=span.start if span else None,
            close_to=span.end if span else None,
        )
        return await page_of(
            info,
            OpportunityConnection,
            Opportunity.from_row,
            page,
            where,
            order_by.value,
            rows=opportunities.list_opportunities,
            count=opportunities.count_opportunities,
        )

    @strawberry.field
    async def opportunity(self, info: Info, id: strawberry.ID) -> Opportunity:
        opportunity_id = parse_id(id, "id")
        row = await read(
            info, lambda s, scope: opportunities.get_opportunity(s, scope, opportunity_id)
        )
        return Opportunity.from_row(row)

    @strawberry.field(description="An owner's open pipeline closing in a period, by stage.")
    async def pipeline(self, info: Info, owner_id: strawberry.ID, period: str) -> Pipeline:
        owner = parse_id(owner_id, "ownerId")
        span = _period(info, period)
        result = await read(info, lambda s, scope: forecasting.pipeline(s, scope, owner, span))
        return Pipeline.from_result(result)

    @strawberry.field(description="Live forecasts per territory and type, then submitted ones.")
    async def forecasts(
        self,
        info: Info,
        period: str,
        territory_id: strawberry.ID | None = None,
        forecast_type: ForecastTypeValue | None = None,
    ) -> list[Forecast]:
        span = _period(info, period)
        territory = optional_id(territory_id, "territoryId")
        cache = info.context.runtime.forecast_cache
        computed, submitted = await read(
            info,
            lambda s, scope: forecast_generation.forecasts(
                s, scope, cache, span, territory, forecast_type
            ),
        )
        return [Forecast.from_computed(c) for c in computed] + [
            Forecast.from_row(row) for row in submitted
        ]

    @strawberry.field(description="Quotas with their attainment.")
    async def quotas(
        self,
        info: Info,
        period: str | None = None,
        user_id: strawberry.ID | None = None,
        territory_id: strawberry.ID | None = None,
    ) -> list[Quota]:
        if period is not None:
            _period(info, period)
        user = optional_id(user_id, "userId")
        territory = optional_id(territory_id, "territoryId")

        async def fetch(s, scope):  # type: ignore[no-untyped-def]
            rows = await quotas.list_quotas(
                s, scope, period=period, user_id=user, territory_id=territory
            )
            return [
                await quotas.attainment(s, scope, row, _period(info, row.period)) for row in rows
            ]

        return [Quota.from_attainment(a) for a in await read(info, fetch)]


@strawberry.type
class OpportunityMutations:
    @strawberry.mutation(description="Convert a lead: account, primary contact, opportunity.")
    async def convert_lead(
        self, info: Info, lead_id: strawberry.ID, input: ConvertLeadInput
    ) -> Opportunity:
        lead = parse_id(lead_id, "leadId")
        data = parse(conversion.ConvertLead, input_values(input))
        model = info.context.runtime.deal_model
        result = await mutate(
            info, lambda s, scope: conversion.convert_lead(s, scope, lead, data, model)
        )
        return Opportunity.from_row(result.opportunity)

    @strawberry.mutation(description="The spec's Create Opportunity.")
    async def create_opportunity(self, info: Info, input: CreateOpportunityInput) -> Opportunity:
        data = parse(opportunities.NewOpportunity, input_values(input))
        model = info.context.runtime.deal_model
        row = await mutate(
            info, lambda s, scope: opportunities.create_opportunity(s, scope, data, model)
        )
        return Opportunity.from_row(row)

    @strawberry.mutation(description="Move an opportunity to another stage (the stage table).")
    async def update_opportunity_stage(
        self,
        info: Info,
        opportunity_id: strawberry.ID,
        stage: OpportunityStageValue,
        probability: int | None = strawberry.UNSET,
        next_step: str | None = strawberry.UNSET,
        notes: str | None = strawberry.UNSET,
        expected_version: int | None = strawberry.UNSET,
        contract_terms: ContractTermsInput | None = strawberry.UNSET,
        loss_reason: str | None = strawberry.UNSET,
        special_requirements: Annotated[
            str | None,
            strawberry.argument(description="For Operations' onboarding when the deal is won."),
        ] = strawberry.UNSET,
        onboarding_priority: Annotated[
            str | None,
            strawberry.argument(
                description="low, medium or high; by default from the amount (docs/events.md)."
            ),
        ] = strawberry.UNSET,
    ) -> Opportunity:
        target = parse_id(opportunity_id, "opportunityId")
        values = input_values(
            {
                "stage": stage,
                "probability": probability,
                "next_step": next_step,
                "notes": notes,
                "expected_version": expected_version,
                "loss_reason": loss_reason,
                "special_requirements": special_requirements,
                "onboarding_priority": onboarding_priority,
            }
        )
        values = {k: v for k, v in values.items() if v is not strawberry.UNSET}
        if contract_terms not in (None, strawberry.UNSET):
            values.update(input_values(contract_terms))
        change = parse(opportunities.StageChange, values)
        model = info.context.runtime.deal_model
        fiscal = info.context.runtime.settings.fiscal_year_start_month
        row = await mutate(
            info,
            lambda s, scope: opportunities.update_stage(
                s, scope, target, change, model, fiscal_year_start_month=fiscal
            ),
        )
        return Opportunity.from_row(row)

    @strawberry.mutation(description="Change name, amount, close date or products.")
    async def update_opportunity(
        self, info: Info, id: strawberry.ID, input: UpdateOpportunityInput
    ) -> Opportunity:
        target = parse_id(id, "id")
        changes = parse(opportunities.OpportunityChanges, input_values(input))
        model = info.context.runtime.deal_model
        row = await mutate(
            info,
            lambda s, scope: opportunities.update_opportunity(s, scope, target, changes, model),
        )
        return Opportunity.from_row(row)

    @strawberry.mutation(description="Hand an opportunity to another owner (managers, admins).")
    async def reassign_opportunity(
        self, info: Info, id: strawberry.ID, owner_id: strawberry.ID, reason: str | None = None
    ) -> Opportunity:
        target = parse_id(id, "id")
        owner = parse_id(owner_id, "ownerId")
        model = info.context.runtime.deal_model
        row = await mutate(
            info,
            lambda s, scope: opportunities.reassign_opportunity(
                s, scope, target, owner, reason, model
            ),
        )
        return Opportunity.from_row(row)

    @strawberry.mutation(description="The spec's Create Forecast: a manager's number.")
    async def create_forecast(self, info: Info, input: CreateForecastInput) -> Forecast:
        data = parse(forecasting.SubmitForecast, input_values(input))
        span = _period(info, data.period)
        row = await mutate(info, lambda s, scope: forecasting.submit_forecast(s, scope, data, span))
        return Forecast.from_row(row)

    @strawberry.mutation(description="Set a quota for a user or a territory.")
    async def set_quota(self, info: Info, input: SetQuotaInput) -> Quota:
        data = parse(quotas.NewQuota, input_values(input))
        span = _period(info, data.period)

        async def run(s, scope):  # type: ignore[no-untyped-def]
            return await quotas.attainment(
                s, scope, await quotas.set_quota(s, scope, data, span), span
            )

        return Quota.from_attainment(await mutate(info, run))

    @strawberry.mutation(description="Change a quota's amount.")
    async def update_quota(self, info: Info, id: strawberry.ID, input: UpdateQuotaInput) -> Quota:
        target = parse_id(id, "id")
        changes = parse(quotas.QuotaChanges, input_values(input))

        async def run(s, scope):  # type: ignore[no-untyped-def]
            fiscal = info.context.runtime.settings.fiscal_year_start_month
            row = await quotas.update_quota(
                s, scope, target, changes, fiscal_year_start_month=fiscal
            )
            return await quotas.attainment(s, scope, row, _period(info, row.period))

        return Quota.from_attainment(await mutate(info, run))
