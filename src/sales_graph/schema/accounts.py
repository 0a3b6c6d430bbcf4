"""GraphQL types of accounts and contacts."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from sales_graph.db.models import Account as AccountRow
from sales_graph.db.models import Contact as ContactRow
from sales_graph.schema.common import PageInfo, money
from sales_graph.schema.context import Info
from sales_graph.schema.territories import Territory, load_territory
from sales_graph.schema.upstream import (
    AccountHealth,
    AccountNps,
    AccountUsage,
    CriticalTickets,
    CustomerTickets,
    Escalations,
    FeatureRequests,
)
from sales_graph.schema.users import User, load_user

if TYPE_CHECKING:
    from sales_graph.schema.opportunities import Opportunity


@strawberry.enum(description="Sort orders of account lists.")
class AccountOrder(Enum):
    NAME_ASC = "NAME_ASC"
    CREATED_AT_DESC = "CREATED_AT_DESC"


@strawberry.type(description="A person at a customer account.")
class Contact:
    id: strawberry.ID
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    title: str | None
    contact_type: str
    is_primary: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: ContactRow) -> Contact:
        return cls(
            id=strawberry.ID(str(row.id)),
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            phone=row.phone,
            title=row.title,
            contact_type=row.contact_type,
            is_primary=row.is_primary,
            created_at=row.created_at,
        )


@strawberry.type(description="A customer or prospect company.")
class Account:
    id: strawberry.ID
    name: str
    domain: str | None
    industry: str | None
    employee_count: int | None
    annual_revenue: float | None
    country: str | None
    region: str | None
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[AccountRow]

    @strawberry.field(description="The rep who owns the account.")
    async def owner(self, info: Info) -> User | None:
        return await load_user(info, self.row.owner_id)

    @strawberry.field
    async def territory(self, info: Info) -> Territory | None:
        return await load_territory(info, self.row.territory_id)

    @strawberry.field(description="Contacts, the primary one first.")
    async def contacts(self, info: Info) -> list[Contact] | None:
        rows = await info.context.loaders.contacts_by_account.load(self.row.id)
        return [Contact.from_row(row) for row in rows]

    @strawberry.field(
        description="The account's opportunities the caller may see; null with an error when "
        "the caller may not read opportunities."
    )
    async def opportunities(
        self, info: Info
    ) -> list[Annotated[Opportunity, strawberry.lazy("sales_graph.schema.opportunities")]] | None:
        from sales_graph.schema.opportunities import Opportunity

        rows = await info.context.loaders.opportunities_by_account.load(self.row.id)
        return [Opportunity.from_row(row) for row in rows]

    # The external systems' view of the account (its id is theirs); null when a system fails.
    @strawberry.field(description="Customer Experience: health score.")
    async def health(self, info: Info) -> AccountHealth | None:
        found = await info.context.loaders.upstream.health.load(str(self.row.id))
        return AccountHealth.from_model(found) if found else None

    @strawberry.field(description="Customer Experience: product usage.")
    async def usage(self, info: Info) -> AccountUsage | None:
        found = await info.context.loaders.upstream.usage.load(str(self.row.id))
        return AccountUsage.from_model(found) if found else None

    @strawberry.field(description="Customer Experience: recent tickets.")
    async def tickets(self, info: Info) -> CustomerTickets | None:
        found = await info.context.loaders.upstream.tickets.load(str(self.row.id))
        return CustomerTickets.from_model(found) if found else None

    @strawberry.field(description="Customer Experience: Net Promoter Score.")
    async def nps(self, info: Info) -> AccountNps | None:
        found = await info.context.loaders.upstream.nps.load(str(self.row.id))
        return AccountNps.from_model(found) if found else None

    @strawberry.field(description="Support: critical tickets.")
    async def critical_tickets(self, info: Info) -> CriticalTickets | None:
        found = await info.context.loaders.upstream.critical_tickets.load(str(self.row.id))
        return CriticalTickets.from_model(found) if found else None

    @strawberry.field(description="Support: escalations.")
    async def escalations(self, info: Info) -> Escalations | None:
        found = await info.context.loaders.upstream.escalations.load(str(self.row.id))
        return Escalations.from_model(found) if found else None

    @strawberry.field(description="Support: feature requests.")
    async def feature_requests(self, info: Info) -> FeatureRequests | None:
        found = await info.context.loaders.upstream.feature_requests.load(str(self.row.id))
        return FeatureRequests.from_model(found) if found else None

    @classmethod
    def from_row(cls, row: AccountRow) -> Account:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            domain=row.domain,
            industry=row.industry,
            employee_count=row.employee_count,
            annual_revenue=money(row.annual_revenue),
            country=row.country,
            region=row.region,
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )


async def load_account(info: Info, account_id: uuid.UUID | None) -> Account | None:
    if account_id is None:
        return None
    row = await info.context.loaders.account.load(account_id)
    return Account.from_row(row) if row else None


@strawberry.type(description="A page of accounts: offset paging or cursors.")
class AccountConnection:
    items: list[Account]
    limit: int
    offset: int
    has_more: bool
    page_info: PageInfo
    counter: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many accounts match the filters (all pages).")
    async def total_count(self) -> int:
        return await self.counter()
