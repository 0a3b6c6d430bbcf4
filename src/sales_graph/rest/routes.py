"""The REST route table: each endpoint of the spec is the GraphQL operation it runs.

An entry says which document runs, how the path, query string and body become its variables,
how its ``data`` becomes the spec's JSON, and the success status. No business rules here.
"""

from __future__ import annotations

from typing import Any

from sales_graph.rest.engine import FollowUp, QueryParam, RestRoute
from sales_graph.rest.schemas import (
    ACCOUNT,
    ANY_OBJECT,
    BOOL,
    DATE,
    FORECAST,
    FORECAST_TYPE,
    INT,
    LEAD_DETAIL,
    LEAD_ITEM,
    LEAD_STATUS,
    LIMIT,
    NUM,
    OFFSET,
    OPPORTUNITY,
    PERIOD,
    STAGE,
    STR,
    TERRITORY,
    TIME,
    UUID,
    body,
    checked,
    nullable,
    obj,
    page_of,
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
    user_ref,
)
from sales_graph.services.conversion import ConvertLead
from sales_graph.services.forecasting import SubmitForecast
from sales_graph.services.leads import NewLead, TerritoryAssignmentRequest
from sales_graph.services.opportunities import NewOpportunity, ProductLine, StageChange

# --- Leads -----------------------------------------------------------------------------------

_LEAD_FIELDS = """
    id status firstName lastName email company score assignedTo { id name } createdAt updatedAt
"""
_LEAD_DETAIL_FIELDS = f"""{_LEAD_FIELDS}
    phone title industry employeeCount annualRevenue country region source campaignId metadata
    territory {{ id }} opportunityId convertedAt version
"""


def lead_item(lead: JSONObject) -> JSONObject:
    return {
        "id": lead["id"],
        "status": lower(lead["status"]),
        "first_name": lead["firstName"],
        "last_name": lead["lastName"],
        "email": lead["email"],
        "company": lead["company"],
        "score": lead["score"],
        "assigned_to": user_ref(lead["assignedTo"]),
        "created_at": lead["createdAt"],
        "updated_at": lead["updatedAt"],
    }


def lead_detail(lead: JSONObject) -> JSONObject:
    simple = ("phone", "title", "industry", "country", "region", "source", "metadata", "version")
    return {
        **lead_item(lead),
        **{name: lead[name] for name in simple},
        "employee_count": lead["employeeCount"],
        "annual_revenue": lead["annualRevenue"],
        "campaign_id": lead["campaignId"],
        "territory_id": ident(lead["territory"]),
        "opportunity_id": lead["opportunityId"],
        "converted_at": lead["convertedAt"],
    }


CREATE_LEAD_BODY = checked(
    body(
        ("email",),
        source=STR,
        first_name=STR,
        last_name=STR,
        email=STR,
        phone=STR,
        company=STR,
        title=STR,
        industry=STR,
        employee_count=INT,
        annual_revenue=NUM,
        score=INT,
        country=STR,
        region=STR,
        campaign_id=STR,
        metadata=ANY_OBJECT,
    ),
    NewLead,
)

LEAD_ROUTES = (
    RestRoute(
        method="POST",
        path="/api/v1/leads",
        operation_id="createLead",
        summary="Create Lead",
        document="""mutation($input: CreateLeadInput!) {
            createLead(input: $input) { id status assignedTo { id } territory { id } createdAt }
        }""",
        variables=lambda r: {"input": camel_keys(r.body)},
        shape=lambda d: {
            "id": d["createLead"]["id"],
            "status": lower(d["createLead"]["status"]),
            "assigned_to": ident(d["createLead"]["assignedTo"]),
            "territory_id": ident(d["createLead"]["territory"]),
            "created_at": d["createLead"]["createdAt"],
        },
        status=201,
        body=CREATE_LEAD_BODY,
        response=obj(
            id=STR,
            status=LEAD_STATUS,
            assigned_to=nullable(STR),
            territory_id=nullable(STR),
            created_at=TIME,
        ),
        tags=("Leads",),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/leads",
        operation_id="getLeads",
        summary="Get Leads",
        document=f"""query($status: LeadStatus, $assignedTo: ID, $limit: Int, $offset: Int) {{
            leads(status: $status, assignedTo: $assignedTo, limit: $limit, offset: $offset) {{
                items {{ {_LEAD_FIELDS} }} totalCount limit offset hasMore
            }}
        }}""",
        variables=lambda r: {
            "status": enum_arg(r.query, "status"),
            "assignedTo": r.query.get("assigned_to"),
            "limit": integer(r.query, "limit"),
            "offset": integer(r.query, "offset"),
        },
        shape=lambda d: {
            "data": [lead_item(lead) for lead in d["leads"]["items"]],
            "pagination": pagination(d["leads"]),
        },
        query=(
            QueryParam("status", LEAD_STATUS, "Only leads in this status"),
            QueryParam("assigned_to", UUID, "Only leads assigned to this user id"),
            LIMIT,
            OFFSET,
        ),
        response=page_of(LEAD_ITEM),
        tags=("Leads",),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/leads/{id}",
        operation_id="getLead",
        summary="Get Lead",
        document=f"query($id: ID!) {{ lead(id: $id) {{ {_LEAD_DETAIL_FIELDS} }} }}",
        variables=lambda r: {"id": r.path["id"]},
        shape=lambda d: lead_detail(d["lead"]),
        response=LEAD_DETAIL,
        tags=("Leads",),
    ),
    RestRoute(
        method="POST",
        path="/api/v1/leads/{id}/convert",
        operation_id="convertLead",
        summary="Convert Lead to Opportunity",
        document="""mutation($leadId: ID!, $input: ConvertLeadInput!) {
            convertLead(leadId: $leadId, input: $input) { id leadId }
        }""",
        variables=lambda r: {
            "leadId": r.path["id"],
            "input": camel_keys(r.body, enums=("stage",)),
        },
        follow_up=FollowUp(
            "query($id: ID!) { lead(id: $id) { id status convertedAt } }",
            lambda d: {"id": d["convertLead"]["leadId"]},
        ),
        shape=lambda d: {
            "opportunity_id": d["convertLead"]["id"],
            "lead_id": d["lead"]["id"],
            "status": lower(d["lead"]["status"]),
            "converted_at": d["lead"]["convertedAt"],
        },
        status=201,
        body=checked(
            body(
                ("opportunity_name",),
                opportunity_name=STR,
                amount=NUM,
                expected_close_date=DATE,
                stage=STAGE,
            ),
            ConvertLead,
        ),
        response=obj(opportunity_id=STR, lead_id=STR, status=LEAD_STATUS, converted_at=TIME),
        tags=("Leads",),
    ),
)


# --- Opportunities ---------------------------------------------------------------------------

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


PRODUCT_LINE = checked(
    body(
        ("product_id", "quantity", "unit_price"),
        product_id=STR,
        quantity=INT,
        unit_price=NUM,
        discount=NUM,
        product_name=STR,
        configuration=ANY_OBJECT,
    ),
    ProductLine,
)

OPPORTUNITY_ROUTES = (
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
                stage=STAGE,
                amount=NUM,
                expected_close_date=DATE,
                probability=INT,
                owner_id=STR,
                products={"type": "array", "items": PRODUCT_LINE},
                metadata=ANY_OBJECT,
                next_step=STR,
                notes=STR,
            ),
            NewOpportunity,
        ),
        response=obj(
            id=STR,
            stage=STAGE,
            probability=nullable(INT),
            deal_score=nullable(INT),
            created_at=TIME,
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
            QueryParam("owner_id", UUID, "The owner whose pipeline this is", required=True),
            QueryParam("period", PERIOD, "A period such as Q1_2026", required=True),
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
            QueryParam("stage", STAGE, "Only opportunities in this stage"),
            QueryParam("owner_id", UUID, "Only opportunities of this owner"),
            QueryParam("account_id", UUID, "Only opportunities of this account"),
            QueryParam("territory_id", UUID, "Only opportunities of this territory"),
            LIMIT,
            OFFSET,
        ),
        response=page_of(OPPORTUNITY),
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
        response=OPPORTUNITY,
        tags=("Opportunities",),
    ),
    RestRoute(
        method="PUT",
        path="/api/v1/opportunities/{id}/stage",
        operation_id="updateOpportunityStage",
        summary="Update Opportunity Stage",
        document="""mutation($opportunityId: ID!, $stage: OpportunityStage!, $probability: Int,
                             $nextStep: String, $notes: String, $lossReason: String,
                             $expectedVersion: Int) {
            updateOpportunityStage(opportunityId: $opportunityId, stage: $stage,
                                   probability: $probability, nextStep: $nextStep,
                                   notes: $notes, lossReason: $lossReason,
                expectedVersion: $expectedVersion) {
                id stage probability dealScore updatedAt version
            }
        }""",
        variables=lambda r: {
            "opportunityId": r.path["id"],
            **camel_keys(r.body, enums=("stage",)),
        },
        shape=lambda d: _picked(
            d["updateOpportunityStage"], "id", "stage", "probability", "dealScore", "updatedAt"
        ),
        body=checked(
            body(
                ("stage",),
                stage=STAGE,
                probability=INT,
                next_step=STR,
                notes=STR,
                loss_reason=STR,
            ),
            StageChange,
        ),
        response=obj(
            id=STR,
            stage=STAGE,
            probability=nullable(INT),
            deal_score=nullable(INT),
            updated_at=TIME,
        ),
        etag=lambda d: int(d["updateOpportunityStage"]["version"]),
        if_match="expectedVersion",
        tags=("Opportunities",),
    ),
)


# --- Territories, forecasts, accounts --------------------------------------------------------


def _boolean(r: RestInput, name: str) -> bool | None:
    raw = r.query.get(name)
    return None if raw is None else raw.lower() == "true"


def forecast(f: JSONObject) -> JSONObject:
    return {
        "id": f["id"],
        "kind": lower(f["kind"]),
        "period": f["period"],
        "forecast_type": lower(f["forecastType"]),
        "amount": f["amount"],
        "probability_weighted_amount": f["probabilityWeightedAmount"],
        "ai_predicted_amount": f["aiPredictedAmount"],
        "current_pipeline": f["currentPipeline"],
        "pipeline_coverage": f["pipelineCoverage"],
        "notes": f["notes"],
        "territory_id": ident(f["territory"]),
        "submitted_by": ident(f["submittedBy"]),
        "created_at": f["createdAt"],
    }


OTHER_ROUTES = (
    RestRoute(
        method="POST",
        path="/api/v1/territories/assign",
        operation_id="assignLeadToTerritory",
        summary="Assign Lead to Territory",
        document="""mutation($input: AssignTerritoryInput!) {
            assignTerritory(input: $input) {
                assignedAt lead { id } territory { id } assignedTo { id }
            }
        }""",
        variables=lambda r: {"input": camel_keys(r.body)},
        shape=lambda d: {
            "lead_id": ident(d["assignTerritory"]["lead"]),
            "territory_id": ident(d["assignTerritory"]["territory"]),
            "assigned_to": ident(d["assignTerritory"]["assignedTo"]),
            "assigned_at": d["assignTerritory"]["assignedAt"],
        },
        body=checked(
            body(
                ("lead_id", "territory_id", "reason"),
                lead_id=STR,
                territory_id=STR,
                reason=STR,
                assigned_to=STR,
            ),
            TerritoryAssignmentRequest,
            assigned_to="assigned_to_id",
        ),
        response=obj(lead_id=STR, territory_id=STR, assigned_to=nullable(STR), assigned_at=TIME),
        tags=("Territories",),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/territories",
        operation_id="getTerritories",
        summary="Get Territories",
        document="""query($ownerId: ID, $isActive: Boolean) {
            territories(ownerId: $ownerId, isActive: $isActive) {
                id name description isActive priority createdAt updatedAt
                owner { id } members { id }
            }
        }""",
        variables=lambda r: {
            "ownerId": r.query.get("owner_id"),
            "isActive": _boolean(r, "is_active"),
        },
        shape=lambda d: {
            "data": [
                {
                    "id": t["id"],
                    "name": t["name"],
                    "description": t["description"],
                    "is_active": t["isActive"],
                    "priority": t["priority"],
                    "owner_id": ident(t["owner"]),
                    "member_ids": [m["id"] for m in t["members"]],
                    "created_at": t["createdAt"],
                    "updated_at": t["updatedAt"],
                }
                for t in d["territories"]
            ]
        },
        query=(
            QueryParam("owner_id", UUID, "Only territories of this owner"),
            QueryParam("is_active", BOOL, "Only active (true) or inactive (false) territories"),
        ),
        response=obj(data={"type": "array", "items": TERRITORY}),
        tags=("Territories",),
    ),
    RestRoute(
        method="POST",
        path="/api/v1/forecasts",
        operation_id="createForecast",
        summary="Create Forecast",
        document="""mutation($input: CreateForecastInput!) {
            createForecast(input: $input) {
                id period forecastType amount currentPipeline pipelineCoverage createdAt
            }
        }""",
        variables=lambda r: {"input": camel_keys(r.body, enums=("forecast_type",))},
        shape=lambda d: {
            "id": d["createForecast"]["id"],
            "period": d["createForecast"]["period"],
            "forecast_type": lower(d["createForecast"]["forecastType"]),
            "amount": d["createForecast"]["amount"],
            "current_pipeline": d["createForecast"]["currentPipeline"],
            "pipeline_coverage": d["createForecast"]["pipelineCoverage"],
            "created_at": d["createForecast"]["createdAt"],
        },
        status=201,
        body=checked(
            body(
                ("period", "territory_id", "forecast_type", "amount"),
                period=STR,
                territory_id=STR,
                forecast_type=FORECAST_TYPE,
                amount=NUM,
                notes=STR,
            ),
            SubmitForecast,
        ),
        response=obj(
            id=STR,
            period=STR,
            forecast_type=FORECAST_TYPE,
            amount=NUM,
            current_pipeline=nullable(NUM),
            pipeline_coverage=nullable(NUM),
            created_at=TIME,
        ),
        tags=("Forecasts",),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/forecasts/{period}",
        operation_id="getForecasts",
        summary="Get Forecasts of a Period",
        document="""query($period: String!, $territoryId: ID, $forecastType: ForecastType) {
            forecasts(period: $period, territoryId: $territoryId, forecastType: $forecastType) {
                id kind period forecastType amount probabilityWeightedAmount aiPredictedAmount
                currentPipeline pipelineCoverage notes createdAt territory { id }
                submittedBy { id }
            }
        }""",
        variables=lambda r: {
            "period": r.path["period"],
            "territoryId": r.query.get("territory_id"),
            "forecastType": enum_arg(r.query, "forecast_type"),
        },
        shape=lambda d: {"data": [forecast(f) for f in d["forecasts"]]},
        query=(
            QueryParam("territory_id", UUID, "Only forecasts of this territory"),
            QueryParam("forecast_type", FORECAST_TYPE, "Only forecasts of this type"),
        ),
        response=obj(data={"type": "array", "items": FORECAST}),
        tags=("Forecasts",),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/accounts/{id}",
        operation_id="getAccount",
        summary="Get Account",
        document="""query($id: ID!) {
            account(id: $id) {
                id name domain industry employeeCount annualRevenue country region
                createdAt updatedAt owner { id } territory { id }
            }
        }""",
        variables=lambda r: {"id": r.path["id"]},
        shape=lambda d: {
            "id": d["account"]["id"],
            "name": d["account"]["name"],
            "domain": d["account"]["domain"],
            "industry": d["account"]["industry"],
            "employee_count": d["account"]["employeeCount"],
            "annual_revenue": d["account"]["annualRevenue"],
            "country": d["account"]["country"],
            "region": d["account"]["region"],
            "owner_id": ident(d["account"]["owner"]),
            "territory_id": ident(d["account"]["territory"]),
            "created_at": d["account"]["createdAt"],
            "updated_at": d["account"]["updatedAt"],
        },
        response=ACCOUNT,
        tags=("Accounts",),
    ),
)

# Order matters where paths overlap: /opportunities/pipeline before /opportunities/{id}.
ROUTES: tuple[RestRoute, ...] = (*LEAD_ROUTES, *OPPORTUNITY_ROUTES, *OTHER_ROUTES)
