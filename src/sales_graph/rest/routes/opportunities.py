"""Opportunities: create, pipeline, list, read, change stage."""

from __future__ import annotations

from typing import Any

from sales_graph.domain import OpportunityStage
from sales_graph.rest.schemas import (
    BUSINESS_DATE,
    EXAMPLE_ID,
    INT,
    LIMIT,
    NON_BLANK_PATTERN,
    NUM,
    OFFSET,
    OPEN_STAGE,
    PERIOD,
    STAGE,
    STR,
    TIME,
    UUID,
    body,
    checked,
    json_object,
    nullable,
    obj,
    page_of,
    ref,
)
from sales_graph.rest.shapes import (
    JSONObject,
    RestInput,
    camel_keys,
    enum_arg,
    ident,
    integer,
    lower,
    pagination,
)
from sales_graph.rest.table import Link, QueryParam, RestRoute
from sales_graph.services.opportunities import NewOpportunity, ProductLine, StageChange
from sales_graph.services.stages import STAGES

_OPPORTUNITY_FIELDS = """
    id name stage amount probability expectedCloseDate forecastCategory dealScore nextStep notes
    lossReason version closedAt createdAt updatedAt leadId account { id } owner { id }
    territory { id }
"""


def opportunity(o: JSONObject) -> JSONObject:
    return {
        "id": o["id"],
        "name": o["name"],
        "account_id": ident(o["account"]),
        "lead_id": o["leadId"],
        "owner_id": ident(o["owner"]),
        "territory_id": ident(o["territory"]),
        "stage": lower(o["stage"]),
        "amount": o["amount"],
        "probability": o["probability"],
        "expected_close_date": o["expectedCloseDate"],
        "forecast_category": lower(o["forecastCategory"]),
        "deal_score": o["dealScore"],
        "next_step": o["nextStep"],
        "notes": o["notes"],
        "loss_reason": o["lossReason"],
        "version": o["version"],
        "closed_at": o["closedAt"],
        "created_at": o["createdAt"],
        "updated_at": o["updatedAt"],
    }


def _picked(o: JSONObject, *names: str) -> dict[str, Any]:
    spelled = {"dealScore": "deal_score", "createdAt": "created_at", "updatedAt": "updated_at"}
    return {spelled.get(n, n): lower(o[n]) if n == "stage" else o[n] for n in names}


# The close-won terms, passed on as GraphQL's ``contractTerms``.
_CONTRACT_TERMS = ("contract_term", "start_date", "payment_terms", "billing_frequency")


def _stage_change(r: RestInput) -> JSONObject:
    change = {k: v for k, v in r.body.items() if k not in _CONTRACT_TERMS}
    terms = {k: v for k, v in r.body.items() if k in _CONTRACT_TERMS}
    variables = {"opportunityId": r.path["id"], **camel_keys(change, enums=("stage",))}
    return variables | ({"contractTerms": camel_keys(terms)} if terms else {})


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


PRODUCT_LINE = checked(
    body(
        ("product_id", "quantity", "unit_price"),
        product_id=STR,
        quantity=INT,
        unit_price=NUM,
        discount=NUM,
        product_name=STR,
        configuration=json_object(),
    ),
    ProductLine,
)

STAGE_CHANGE = {
    **checked(
        body(
            ("stage",),
            stage=STAGE,
            probability=INT,
            next_step=STR,
            notes=STR,
            loss_reason=STR,
            contract_term=INT,
            start_date=BUSINESS_DATE,
            payment_terms=STR,
            billing_frequency=STR,
            special_requirements=STR,
            onboarding_priority=STR,
        ),
        StageChange,
    ),
    "allOf": [
        _closing(OpportunityStage.CLOSED_WON),
        _closing(
            OpportunityStage.CLOSED_LOST,
            {
                "required": ["loss_reason"],
                "properties": {"loss_reason": {"pattern": NON_BLANK_PATTERN}},
            },
        ),
    ],
}

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
        variables=lambda r: {
            "input": camel_keys(r.body, enums=("stage",), lists=("products",)),
        },
        shape=lambda d: _picked(
            d["createOpportunity"], "id", "stage", "probability", "dealScore", "createdAt"
        ),
        status=201,
        body=checked(
            body(
                ("name", "account_id"),
                name=STR,
                account_id=STR,
                lead_id=STR,
                stage=OPEN_STAGE,
                amount=NUM,
                expected_close_date=BUSINESS_DATE,
                probability=INT,
                owner_id=STR,
                products={"type": "array", "items": PRODUCT_LINE},
                metadata=json_object(),
                next_step=STR,
                notes=STR,
            ),
            NewOpportunity,
        ),
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
        response=obj(
            id=STR,
            stage=STAGE,
            probability=nullable(INT),
            deal_score=nullable(INT),
            created_at=TIME,
        ),
        links=(
            Link("GetOpportunity", "getOpportunity", {"path.id": _ID}),
            Link("UpdateStage", "updateOpportunityStage", {"path.id": _ID}),
        ),
        tags=("Opportunities",),
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
        variables=lambda r: {"ownerId": r.query.get("owner_id"), "period": r.query.get("period")},
        shape=lambda d: {
            "period": d["pipeline"]["period"],
            "owner_id": d["pipeline"]["ownerId"],
            "summary": {
                "total_count": d["pipeline"]["summary"]["totalCount"],
                "total_amount": d["pipeline"]["summary"]["totalAmount"],
                "weighted_amount": d["pipeline"]["summary"]["weightedAmount"],
            },
            "by_stage": [
                {
                    "stage": lower(s["stage"]),
                    "count": s["count"],
                    "total_amount": s["totalAmount"],
                    "probability": s["probability"],
                    "weighted_amount": s["weightedAmount"],
                }
                for s in d["pipeline"]["byStage"]
            ],
        },
        query=(
            QueryParam(
                "owner_id",
                UUID,
                "The owner whose pipeline this is",
                required=True,
                example=EXAMPLE_ID,
            ),
            QueryParam(
                "period", PERIOD, "A period such as Q1_2026", required=True, example="Q1_2026"
            ),
        ),
        response=obj(
            period=STR,
            owner_id=STR,
            summary=obj(total_count=INT, total_amount=NUM, weighted_amount=NUM),
            by_stage={
                "type": "array",
                "items": obj(
                    stage=STAGE, count=INT, total_amount=NUM, probability=INT, weighted_amount=NUM
                ),
            },
        ),
        tags=("Opportunities",),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/opportunities",
        operation_id="getOpportunities",
        summary="Get Opportunities",
        document=f"""query($stage: OpportunityStage, $ownerId: ID, $accountId: ID,
                           $territoryId: ID, $limit: Int, $offset: Int) {{
            opportunities(stage: $stage, ownerId: $ownerId, accountId: $accountId,
                          territoryId: $territoryId, limit: $limit, offset: $offset) {{
                items {{ {_OPPORTUNITY_FIELDS} }} totalCount limit offset hasMore
            }}
        }}""",
        variables=lambda r: {
            "stage": enum_arg(r.query, "stage"),
            "ownerId": r.query.get("owner_id"),
            "accountId": r.query.get("account_id"),
            "territoryId": r.query.get("territory_id"),
            "limit": integer(r.query, "limit"),
            "offset": integer(r.query, "offset"),
        },
        shape=lambda d: {
            "data": [opportunity(o) for o in d["opportunities"]["items"]],
            "pagination": pagination(d["opportunities"]),
        },
        query=(
            QueryParam("stage", STAGE, "Only opportunities in this stage", example="proposal"),
            QueryParam("owner_id", UUID, "Only opportunities of this owner"),
            QueryParam("account_id", UUID, "Only opportunities of this account"),
            QueryParam("territory_id", UUID, "Only opportunities of this territory"),
            LIMIT,
            OFFSET,
        ),
        response=page_of(ref("Opportunity")),
        links=(
            Link("GetFirstOpportunity", "getOpportunity", {"path.id": "$response.body#/data/0/id"}),
        ),
        tags=("Opportunities",),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/opportunities/{id}",
        operation_id="getOpportunity",
        summary="Get Opportunity",
        document=f"query($id: ID!) {{ opportunity(id: $id) {{ {_OPPORTUNITY_FIELDS} }} }}",
        variables=lambda r: {"id": r.path["id"]},
        shape=lambda d: opportunity(d["opportunity"]),
        etag=lambda d: int(d["opportunity"]["version"]),
        response=ref("Opportunity"),
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
        tags=("Opportunities",),
    ),
    RestRoute(
        method="PUT",
        path="/api/v1/opportunities/{id}/stage",
        operation_id="updateOpportunityStage",
        summary="Update Opportunity Stage",
        document="""mutation($opportunityId: ID!, $stage: OpportunityStage!, $probability: Int,
                             $nextStep: String, $notes: String, $lossReason: String,
                             $expectedVersion: Int, $contractTerms: ContractTermsInput,
                             $specialRequirements: String, $onboardingPriority: String) {
            updateOpportunityStage(opportunityId: $opportunityId, stage: $stage,
                                   probability: $probability, nextStep: $nextStep,
                                   notes: $notes, lossReason: $lossReason,
                                   expectedVersion: $expectedVersion,
                                   contractTerms: $contractTerms,
                                   specialRequirements: $specialRequirements,
                                   onboardingPriority: $onboardingPriority) {
                id stage probability dealScore updatedAt version
            }
        }""",
        variables=_stage_change,
        shape=lambda d: _picked(
            d["updateOpportunityStage"], "id", "stage", "probability", "dealScore", "updatedAt"
        ),
        body=STAGE_CHANGE,
        example={
            "stage": "proposal",
            "probability": 50,
            "next_step": "Send proposal by Friday",
            "notes": "Customer requested custom pricing",
        },
        response=obj(
            id=STR,
            stage=STAGE,
            probability=nullable(INT),
            deal_score=nullable(INT),
            updated_at=TIME,
        ),
        etag=lambda d: int(d["updateOpportunityStage"]["version"]),
        if_match="expectedVersion",
        links=(Link("GetOpportunity", "getOpportunity", {"path.id": _ID}),),
        tags=("Opportunities",),
    ),
)
