"""GraphQL types of what the external systems tell us (``docs/upstreams.md``).

Each type mirrors the connector's model it is built from (``from_model``): its fields are the
model's (``schema/derive.py``) but those it leaves out; a field written here only changes the
model's type or gives it a description. Every type read on its own has ``stale``: true when the
value is a cached copy served because its system is failing right now. Money is a Float in the
payload's ``currency``.
"""

from __future__ import annotations

import strawberry

from sales_graph.connectors.billing import models as billing
from sales_graph.connectors.customer_experience import models as cx
from sales_graph.connectors.finance import models as finance
from sales_graph.connectors.marketing import models as marketing
from sales_graph.connectors.support import models as support
from sales_graph.schema.derive import from_attributes, mirrored_type

_STALE = "True when this is a cached copy served while the system is failing."


@mirrored_type(description="One driver of an account's health score.")
class HealthDriver:
    from_model = from_attributes(cx.HealthDriver)


@mirrored_type(
    description="Customer Experience: the account's health (0-100).", exclude={"account_id"}
)
class AccountHealth:
    from_model = from_attributes(cx.AccountHealth)
    status: str = strawberry.field(description="healthy, at_risk or critical (CX's banding).")
    stale: bool = strawberry.field(description=_STALE)


@mirrored_type(description="How much of the account uses one feature (0-1).")
class FeatureAdoption:
    from_model = from_attributes(cx.FeatureAdoption)


@mirrored_type(
    description="Customer Experience: product usage over the last period.", exclude={"account_id"}
)
class AccountUsage:
    from_model = from_attributes(cx.AccountUsage)
    api_calls: float = strawberry.field(description="A count; a Float as it may exceed Int.")
    stale: bool = strawberry.field(description=_STALE)


@mirrored_type(description="A customer's ticket as Customer Experience knows it.")
class CustomerTicket:
    from_model = from_attributes(cx.CustomerTicket)


@mirrored_type(
    description="Customer Experience: the account's recent tickets.", exclude={"account_id"}
)
class CustomerTickets:
    from_model = from_attributes(cx.AccountTickets)
    stale: bool = strawberry.field(description=_STALE)


@mirrored_type(
    description="Customer Experience: Net Promoter Score (-100..100).", exclude={"account_id"}
)
class AccountNps:
    from_model = from_attributes(cx.AccountNps)
    stale: bool = strawberry.field(description=_STALE)


@mirrored_type(description="A critical ticket open at Support.")
class CriticalTicket:
    from_model = from_attributes(support.CriticalTicket)


@mirrored_type(description="Support: the account's critical tickets.", exclude={"account_id"})
class CriticalTickets:
    from_model = from_attributes(support.CriticalTickets)
    stale: bool = strawberry.field(description=_STALE)


@mirrored_type(description="A Support escalation.")
class Escalation:
    from_model = from_attributes(support.Escalation)


@mirrored_type(description="Support: the account's escalation history.", exclude={"account_id"})
class Escalations:
    from_model = from_attributes(support.Escalations)
    stale: bool = strawberry.field(description=_STALE)


@mirrored_type(description="A feature the account asked Support for.")
class FeatureRequest:
    from_model = from_attributes(support.FeatureRequest)


@mirrored_type(description="Support: the account's feature requests.", exclude={"account_id"})
class FeatureRequests:
    from_model = from_attributes(support.FeatureRequests)
    stale: bool = strawberry.field(description=_STALE)


@mirrored_type(description="Marketing: the campaign a lead came from.")
class Campaign:
    from_model = from_attributes(marketing.Campaign)
    stale: bool = strawberry.field(description=_STALE)


@mirrored_type(description="One factor of Marketing's lead score.")
class MarketingScoreFactor:
    from_model = from_attributes(marketing.ScoreFactor)


@mirrored_type(description="Marketing: its current score of the lead (0-100).", exclude={"lead_id"})
class MarketingScore:
    from_model = from_attributes(marketing.LeadScore)
    stale: bool = strawberry.field(description=_STALE)


@mirrored_type(description="One product line of a Billing contract.")
class ContractProduct:
    from_model = from_attributes(billing.ContractProduct)


@mirrored_type(description="One payment due under a Billing contract.")
class ContractInstalment:
    from_model = from_attributes(billing.Instalment)


@mirrored_type(
    description="Billing: the contract created when the deal closed won.",
    exclude={"opportunity_id", "account_id", "owner"},
)
class Contract:
    from_model = from_attributes(billing.Contract)
    contract_term: int = strawberry.field(description="Months.")
    stale: bool = strawberry.field(description=_STALE)


@mirrored_type(description="Revenue of one month.")
class MonthlyRevenue:
    from_model = from_attributes(finance.MonthlyRevenue)


@mirrored_type(description="Finance: actual revenue of a period, next to the forecast.")
class Revenue:
    from_model = from_attributes(finance.Revenue)
    period: str = strawberry.field(description="The period as Finance names it.")
    stale: bool = strawberry.field(description=_STALE)
