"""The root Mutation type: each field parses its input and calls one service command."""

from __future__ import annotations

import strawberry

from sales_graph.resolvers.common import mutate
from sales_graph.resolvers.opportunities import OpportunityMutations
from sales_graph.resolvers.webhooks import WebhookMutations
from sales_graph.schema.common import input_values, parse_id
from sales_graph.schema.context import Info
from sales_graph.schema.leads import (
    AssignTerritoryInput,
    CreateLeadInput,
    Lead,
    UpdateLeadInput,
)
from sales_graph.schema.territories import (
    CreateTerritoryInput,
    Territory,
    TerritoryAssignment,
    UpdateTerritoryInput,
)
from sales_graph.services import leads, territories
from sales_graph.services.marketing_sync import sync_lead_from_marketing
from sales_graph.services.validation import parse


@strawberry.type
class Mutation(OpportunityMutations, WebhookMutations):
    @strawberry.mutation(description="Create a lead; it is assigned a territory and a rep.")
    async def create_lead(self, info: Info, input: CreateLeadInput) -> Lead:
        data = parse(leads.NewLead, input_values(input))
        return Lead.from_row(await mutate(info, lambda s, scope: leads.create_lead(s, scope, data)))

    @strawberry.mutation(description="Change a lead's profile or move it between new and working.")
    async def update_lead(self, info: Info, id: strawberry.ID, input: UpdateLeadInput) -> Lead:
        lead_id = parse_id(id, "id")
        changes = parse(leads.LeadChanges, input_values(input))
        row = await mutate(info, lambda s, scope: leads.update_lead(s, scope, lead_id, changes))
        return Lead.from_row(row)

    @strawberry.mutation(description="Mark a lead qualified.")
    async def qualify_lead(self, info: Info, id: strawberry.ID) -> Lead:
        lead_id = parse_id(id, "id")
        return Lead.from_row(
            await mutate(info, lambda s, scope: leads.qualify_lead(s, scope, lead_id))
        )

    @strawberry.mutation(description="Mark a lead disqualified, with the reason.")
    async def disqualify_lead(self, info: Info, id: strawberry.ID, reason: str) -> Lead:
        lead_id = parse_id(id, "id")
        row = await mutate(info, lambda s, scope: leads.disqualify_lead(s, scope, lead_id, reason))
        return Lead.from_row(row)

    @strawberry.mutation(description="Assign a lead to a territory (and rep) by hand.")
    async def assign_territory(
        self, info: Info, input: AssignTerritoryInput
    ) -> TerritoryAssignment:
        values = input_values(input)
        values["assigned_to_id"] = values.pop("assigned_to", None)
        request = parse(leads.TerritoryAssignmentRequest, values)
        result = await mutate(info, lambda s, scope: leads.assign_territory(s, scope, request))
        return TerritoryAssignment.from_row(result.record)

    @strawberry.mutation(description="Sync a lead with Marketing and store its score and campaign.")
    async def sync_lead_from_marketing(self, info: Info, lead_id: strawberry.ID) -> Lead:
        parsed = parse_id(lead_id, "leadId")
        connectors = info.context.runtime.connectors
        marketing = connectors.marketing if connectors else None
        row = await mutate(
            info, lambda s, scope: sync_lead_from_marketing(s, scope, parsed, marketing)
        )
        return Lead.from_row(row)

    @strawberry.mutation(description="Create a territory (admins).")
    async def create_territory(self, info: Info, input: CreateTerritoryInput) -> Territory:
        data = parse(territories.NewTerritory, input_values(input))
        row = await mutate(info, lambda s, scope: territories.create_territory(s, scope, data))
        return Territory.from_row(row)

    @strawberry.mutation(description="Change a territory (admins, or the manager who owns it).")
    async def update_territory(
        self, info: Info, id: strawberry.ID, input: UpdateTerritoryInput
    ) -> Territory:
        territory_id = parse_id(id, "id")
        changes = parse(territories.TerritoryChanges, input_values(input))
        row = await mutate(
            info, lambda s, scope: territories.update_territory(s, scope, territory_id, changes)
        )
        return Territory.from_row(row)
