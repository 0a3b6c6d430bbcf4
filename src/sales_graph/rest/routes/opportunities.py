"""Opportunities: create, pipeline, list, read, change stage."""

from __future__ import annotations

from sales_graph.domain import OpportunityStage
from sales_graph.rest.schemas import EXAMPLE_ID, NON_BLANK_PATTERN, PERIOD
from sales_graph.rest.shapes import JSONObject
from sales_graph.rest.table import PAGE, Body, Link, QueryParam, RestRoute, Shape
from sales_graph.services.opportunities import NewOpportunity, StageChange
from sales_graph.services.stages import STAGES

# The spec's Opportunity has no contract id or metadata (GraphQL has).
OPPORTUNITY = Shape(
    "Opportunity",
    related="accountId: account { id } ownerId: owner { id } territoryId: territory { id }",
    omit=("contractId", "metadata"),
)


def _closing(stage: OpportunityStage, then: JSONObject | None = None) -> JSONObject:
    """What a request that closes as ``stage`` must also say (the stage table's probability)."""
    more = then or {}
    probability = {"const": STAGES[stage].default_probability}
    return {
        "if": {"properties": {"stage": {"const": stage.value}}, "required": ["stage"]},
        "then": {
            **more,
            "properties": {"probability": probability, **more.get("properties", {})},
        },
    }


# The stage table's rules that depend on the request alone; which stage may follow the current
# one, and that a win needs a product line, depend on the opportunity (the service's).
CLOSING_RULES = (
    _closing(OpportunityStage.CLOSED_WON),
    _closing(
        OpportunityStage.CLOSED_LOST,
        {
            "required": ["loss_reason"],
            "properties": {"loss_reason": {"pattern": NON_BLANK_PATTERN}},
        },
    ),
)

_ID = "$response.body#/id"

ROUTES = (
    RestRoute(
        method="POST",
        path="/api/v1/opportunities",
        operation_id="createOpportunity",
        summary="Create Opportunity",
        document="""mutation($input: CreateOpportunityInput!) {
            createOpportunity(input: $input) { id stage probability dealScore createdAt }
        }""",
        status=201,
        body=Body(NewOpportunity),
        example={
            "name": "Acme Corp - Enterprise Plan",
            "account_id": EXAMPLE_ID,
            "lead_id": "0b7e4c3a-58d2-4f7a-9e61-2c3d4b5a6f70",
            "stage": "discovery",
            "amount": 120000.00,
            "expected_close_date": "2026-04-30",
            "probability": 20,
            "owner_id": "8d2f6a1c-4e3b-4a9d-b7c5-1e0f2a3b4c5d",
            "products": [{"product_id": "prod_123", "quantity": 100, "unit_price": 100.00}],
            "metadata": {
                "competition": ["Competitor A", "Competitor B"],
                "decision_criteria": ["price", "features", "support"],
            },
        },
        links=(
            Link("GetOpportunity", "getOpportunity", {"path.id": _ID}),
            Link("UpdateStage", "updateOpportunityStage", {"path.id": _ID}),
        ),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/opportunities/pipeline",
        operation_id="getOpportunityPipeline",
        summary="Get Opportunity Pipeline",
        document="""query($ownerId: ID!, $period: String!) {
            pipeline(ownerId: $ownerId, period: $period) {
                period ownerId summary { totalCount totalAmount weightedAmount }
                byStage { stage count totalAmount probability weightedAmount }
            }
        }""",
        query=(
            QueryParam("owner_id", "The owner whose pipeline this is", example=EXAMPLE_ID),
            QueryParam("period", "A period such as Q1_2026", PERIOD, example="Q1_2026"),
        ),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/opportunities",
        operation_id="getOpportunities",
        summary="Get Opportunities",
        document="""query($stage: OpportunityStage, $ownerId: ID, $accountId: ID,
                           $territoryId: ID, $limit: Int, $offset: Int, $after: String) {
            opportunities(stage: $stage, ownerId: $ownerId, accountId: $accountId,
                          territoryId: $territoryId, limit: $limit, offset: $offset,
                          after: $after) {
                items { ...Opportunity } total: totalCount limit offset hasMore
                _next: pageInfo { hasNextPage endCursor }
            }
        }""",
        shapes=(OPPORTUNITY,),
        next_page="_next",
        query=(
            QueryParam("stage", "Only opportunities in this stage", example="proposal"),
            QueryParam("owner_id", "Only opportunities of this owner"),
            QueryParam("account_id", "Only opportunities of this account"),
            QueryParam("territory_id", "Only opportunities of this territory"),
            *PAGE,
        ),
        links=(
            Link("GetFirstOpportunity", "getOpportunity", {"path.id": "$response.body#/data/0/id"}),
        ),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/opportunities/{id}",
        operation_id="getOpportunity",
        summary="Get Opportunity",
        document="query($id: ID!) { opportunity(id: $id) { ...Opportunity } }",
        shapes=(OPPORTUNITY,),
        etag="version",
        links=(
            Link("GetAccount", "getAccount", {"path.id": "$response.body#/account_id"}),
            Link(
                "UpdateStage",
                "updateOpportunityStage",
                {"path.id": _ID, "header.If-Match": "$response.header.ETag"},
            ),
            Link(
                "CreateOpportunityForAccount",
                "createOpportunity",
                request_body={"account_id": "$response.body#/account_id"},
            ),
            Link(
                "GetOwnerPipeline",
                "getOpportunityPipeline",
                {"query.owner_id": "$response.body#/owner_id"},
            ),
        ),
    ),
    RestRoute(
        method="PUT",
        path="/api/v1/opportunities/{id}/stage",
        operation_id="updateOpportunityStage",
        summary="Update Opportunity Stage",
        document="""mutation($id: ID!, $stage: OpportunityStage!, $probability: Int,
                             $nextStep: String, $notes: String, $lossReason: String,
                             $expectedVersion: Int, $contractTerms: ContractTermsInput,
                             $specialRequirements: String, $onboardingPriority: String) {
            updateOpportunityStage(opportunityId: $id, stage: $stage,
                                   probability: $probability, nextStep: $nextStep,
                                   notes: $notes, lossReason: $lossReason,
                                   expectedVersion: $expectedVersion,
                                   contractTerms: $contractTerms,
                                   specialRequirements: $specialRequirements,
                                   onboardingPriority: $onboardingPriority) {
                id stage probability dealScore updatedAt _version: version
            }
        }""",
        body=Body(StageChange, rules=CLOSING_RULES),
        example={
            "stage": "proposal",
            "probability": 50,
            "next_step": "Send proposal by Friday",
            "notes": "Customer requested custom pricing",
        },
        etag="_version",
        if_match="expectedVersion",
        links=(Link("GetOpportunity", "getOpportunity", {"path.id": _ID}),),
    ),
)
