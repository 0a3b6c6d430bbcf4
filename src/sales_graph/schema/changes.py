"""GraphQL types of subscription events (docs/real-time.md): what changed, and the record as
the subscriber sees it when the event is delivered."""

from __future__ import annotations

from datetime import datetime

import strawberry

from sales_graph.db.models import Lead as LeadRow
from sales_graph.db.models import Opportunity as OpportunityRow
from sales_graph.events.fanout import LiveEvent
from sales_graph.schema.leads import Lead
from sales_graph.schema.opportunities import Opportunity
from sales_graph.services.live import Assignee as AssigneeValue
from sales_graph.services.live import LeadChangeKind as LeadChangeKindValue
from sales_graph.services.live import OpportunityChangeKind as OpportunityChangeKindValue

OpportunityChangeKind = strawberry.enum(
    OpportunityChangeKindValue,
    name="OpportunityChangeKind",
    description="What happened to an opportunity: the event of docs/events.md it comes from.",
)
LeadChangeKind = strawberry.enum(
    LeadChangeKindValue,
    name="LeadChangeKind",
    description="What happened to a lead: the event of docs/events.md it comes from.",
)
Assignee = strawberry.enum(
    AssigneeValue,
    name="Assignee",
    description="ME: leads assigned to the caller; MY_TEAM: to them or anyone reporting to them.",
)


def _occurred_at(event: LiveEvent) -> datetime:
    return datetime.fromisoformat(str(event.envelope.get("timestamp")))


@strawberry.type(description="An opportunity was created, updated, moved to a stage or closed.")
class OpportunityChanged:
    change: OpportunityChangeKindValue
    event_id: strawberry.ID = strawberry.field(description="The event's id (docs/events.md).")
    occurred_at: datetime = strawberry.field(description="When the change committed.")
    opportunity: Opportunity = strawberry.field(
        description="The opportunity as the subscriber sees it when the event is delivered."
    )

    @classmethod
    def of(
        cls, event: LiveEvent, kind: OpportunityChangeKindValue, row: OpportunityRow
    ) -> OpportunityChanged:
        return cls(
            change=kind,
            event_id=strawberry.ID(str(event.envelope.get("event_id"))),
            occurred_at=_occurred_at(event),
            opportunity=Opportunity.from_row(row),
        )


@strawberry.type(description="A lead was created, assigned, qualified or converted.")
class LeadChanged:
    change: LeadChangeKindValue
    event_id: strawberry.ID = strawberry.field(description="The event's id (docs/events.md).")
    occurred_at: datetime = strawberry.field(description="When the change committed.")
    lead: Lead = strawberry.field(
        description="The lead as the subscriber sees it when the event is delivered."
    )

    @classmethod
    def of(cls, event: LiveEvent, kind: LeadChangeKindValue, row: LeadRow) -> LeadChanged:
        return cls(
            change=kind,
            event_id=strawberry.ID(str(event.envelope.get("event_id"))),
            occurred_at=_occurred_at(event),
            lead=Lead.from_row(row),
        )
