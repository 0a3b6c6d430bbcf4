"""The vocabulary of the sales domain: the values that the spec and DESIGN.md enumerate.

Rules over these values (stage transitions, probabilities, forecast categories) live in
``sales_graph.services``; this module only names them. The services, the GraphQL and REST
layers and the event payloads (``events/models.py``) import them from here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    SALES_REP = "sales_rep"
    SALES_MANAGER = "sales_manager"
    ADMIN = "admin"


class LeadStatus(StrEnum):
    NEW = "new"
    WORKING = "working"
    QUALIFIED = "qualified"
    DISQUALIFIED = "disqualified"
    CONVERTED = "converted"


class OpportunityStage(StrEnum):
    DISCOVERY = "discovery"
    QUALIFICATION = "qualification"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    CLOSED_WON = "closed_won"
    CLOSED_LOST = "closed_lost"


class ForecastCategory(StrEnum):
    PIPELINE = "pipeline"
    BEST_CASE = "best_case"
    COMMIT = "commit"
    CLOSED = "closed"
    OMITTED = "omitted"


class ForecastType(StrEnum):
    PIPELINE = "pipeline"
    BEST_CASE = "best_case"
    COMMIT = "commit"
    CLOSED = "closed"


# Values of a single field, as Literal types: the services' input models, the event payloads
# (events/models.py) and the REST contract (from the input models) take them as they are.

# How a lead got its territory and rep (lead.assigned): a territory's rules matched and no rep
# had capacity; the rules, then a rep by round robin; a manager or admin assigned it by hand.
AssignmentMethod = Literal["rules", "round_robin", "manual"]
# A won deal's contract (opportunity.closed_won, Billing).
PaymentTerms = Literal["due_on_receipt", "net_15", "net_30", "net_45", "net_60"]
BillingFrequency = Literal["monthly", "quarterly", "annually"]
# The priority Operations onboards a won deal with (onboarding.trigger).
OnboardingPriority = Literal["low", "medium", "high"]
