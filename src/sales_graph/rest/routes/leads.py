"""Leads: create, list, read, convert."""

from __future__ import annotations

from sales_graph.rest.schemas import EXAMPLE_ID
from sales_graph.rest.table import PAGE, Body, Link, QueryParam, RestRoute, Shape
from sales_graph.services.conversion import ConvertLead
from sales_graph.services.leads import NewLead

LEAD_SUMMARY = """fragment LeadSummary on Lead {
    id status firstName lastName email company score assignedTo { id name } createdAt updatedAt
}"""
# The spec's Lead has no assignment time or disqualification reason (GraphQL has).
LEAD = Shape(
    "Lead",
    related="assignedTo { id name } territoryId: territory { id }",
    omit=("assignedAt", "disqualifiedReason"),
)

_LEAD_ID = "$response.body#/id"

ROUTES = (
    RestRoute(
        method="POST",
        path="/api/v1/leads",
        operation_id="createLead",
        summary="Create Lead",
        document="""mutation($input: CreateLeadInput!) {
            createLead(input: $input) {
                id status assignedTo { id } territoryId: territory { id } createdAt
            }
        }""",
        status=201,
        # The spec's Create Lead request has no attribution (Marketing's sync sets it).
        body=Body(NewLead, omit=("attribution",)),
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
        links=(
            Link("GetLead", "getLead", {"path.id": _LEAD_ID}),
            Link("ConvertLead", "convertLead", {"path.id": _LEAD_ID}),
            Link("AssignLead", "assignLeadToTerritory", request_body={"lead_id": _LEAD_ID}),
        ),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/leads",
        operation_id="getLeads",
        summary="Get Leads",
        document=f"""query($status: LeadStatus, $assignedTo: ID, $limit: Int, $offset: Int,
                            $after: String) {{
            leads(status: $status, assignedTo: $assignedTo, limit: $limit, offset: $offset,
                  after: $after) {{
                items {{ ...LeadSummary }} total: totalCount limit offset hasMore
                _next: pageInfo {{ hasNextPage endCursor }}
            }}
        }}
        {LEAD_SUMMARY}""",
        next_page="_next",
        query=(
            QueryParam("status", "Only leads in this status", example="qualified"),
            QueryParam("assigned_to", "Only leads assigned to this user id", example=EXAMPLE_ID),
            *PAGE,
        ),
        links=(Link("GetFirstLead", "getLead", {"path.id": "$response.body#/data/0/id"}),),
    ),
    RestRoute(
        method="GET",
        path="/api/v1/leads/{id}",
        operation_id="getLead",
        summary="Get Lead",
        document="query($id: ID!) { lead(id: $id) { ...Lead } }",
        shapes=(LEAD,),
        links=(Link("ConvertLead", "convertLead", {"path.id": _LEAD_ID}),),
    ),
    RestRoute(
        method="POST",
        path="/api/v1/leads/{id}/convert",
        operation_id="convertLead",
        summary="Convert Lead to Opportunity",
        document="""mutation($id: ID!, $input: ConvertLeadInput!) {
            convertLead(leadId: $id, input: $input) { opportunityId: id }
        }""",
        follow_up="""query($id: ID!) {
            lead(id: $id) { leadId: id status convertedAt }
        }""",
        status=201,
        filled=("converted_at",),
        body=Body(ConvertLead),
        example={
            "opportunity_name": "Acme Corp - Enterprise Plan",
            "amount": 120000.00,
            "expected_close_date": "2026-04-30",
            "stage": "discovery",
        },
        links=(
            Link("GetOpportunity", "getOpportunity", {"path.id": "$response.body#/opportunity_id"}),
            Link(
                "UpdateStage",
                "updateOpportunityStage",
                {"path.id": "$response.body#/opportunity_id"},
            ),
            Link("GetLead", "getLead", {"path.id": "$response.body#/lead_id"}),
        ),
    ),
)
