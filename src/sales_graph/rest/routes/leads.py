"""Leads: create, list, read, convert."""

from __future__ import annotations

from sales_graph.rest.schemas import (
    BUSINESS_DATE,
    EXAMPLE_ID,
    INT,
    LEAD_STATUS,
    LIMIT,
    NUM,
    OFFSET,
    OPEN_STAGE,
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
    camel_keys,
    enum_arg,
    ident,
    integer,
    lower,
    pagination,
    user_ref,
)
from sales_graph.rest.table import FollowUp, Link, QueryParam, RestRoute
from sales_graph.services.conversion import ConvertLead
from sales_graph.services.leads import NewLead

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


_LEAD_ID = "$response.body#/id"

ROUTES = (
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
        body=checked(
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
                metadata=json_object(max_properties=50),
            ),
            NewLead,
        ),
        example={
            "source": "webinar",
            "first_name": "John",
            "last_name": "Doe",
            "email": "john.doe@example.com",
            "phone": "+1-555-0100",
            "company": "Acme Corp",
            "title": "VP Engineering",
            "industry": "Technology",
            "employee_count": 500,
            "annual_revenue": 50000000,
            "score": 85,
            "metadata": {"campaign_id": "uuid", "utm_source": "linkedin"},
        },
        response=obj(
            id=STR,
            status=LEAD_STATUS,
            assigned_to=nullable(STR),
            territory_id=nullable(STR),
            created_at=TIME,
        ),
        links=(
            Link("GetLead", "getLead", {"path.id": _LEAD_ID}),
            Link("ConvertLead", "convertLead", {"path.id": _LEAD_ID}),
            Link("AssignLead", "assignLeadToTerritory", request_body={"lead_id": _LEAD_ID}),
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
            QueryParam("status", LEAD_STATUS, "Only leads in this status", example="qualified"),
            QueryParam(
                "assigned_to", UUID, "Only leads assigned to this user id", example=EXAMPLE_ID
            ),
            LIMIT,
            OFFSET,
        ),
        response=page_of(ref("LeadSummary")),
        links=(Link("GetFirstLead", "getLead", {"path.id": "$response.body#/data/0/id"}),),
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
        response=ref("Lead"),
        links=(Link("ConvertLead", "convertLead", {"path.id": _LEAD_ID}),),
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
                expected_close_date=BUSINESS_DATE,
                stage=OPEN_STAGE,
            ),
            ConvertLead,
        ),
        example={
            "opportunity_name": "Acme Corp - Enterprise Plan",
            "amount": 120000.00,
            "expected_close_date": "2026-04-30",
            "stage": "discovery",
        },
        response=obj(opportunity_id=STR, lead_id=STR, status=LEAD_STATUS, converted_at=TIME),
        links=(
            Link("GetOpportunity", "getOpportunity", {"path.id": "$response.body#/opportunity_id"}),
            Link(
                "UpdateStage",
                "updateOpportunityStage",
                {"path.id": "$response.body#/opportunity_id"},
            ),
            Link("GetLead", "getLead", {"path.id": "$response.body#/lead_id"}),
        ),
        tags=("Leads",),
    ),
)
