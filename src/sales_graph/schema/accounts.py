"""GraphQL types of accounts and contacts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import strawberry

from sales_graph.db.models import Account as AccountRow
from sales_graph.db.models import Contact as ContactRow
from sales_graph.schema.common import Connection, load_one, total_count_of
from sales_graph.schema.context import Info
from sales_graph.schema.dataloader import Loader
from sales_graph.schema.derive import from_attributes
from sales_graph.schema.relations import ToOne
from sales_graph.schema.territories import Territory, territory_by
from sales_graph.schema.upstream import (
    AccountHealth,
    AccountNps,
    AccountUsage,
    CriticalTickets,
    CustomerTickets,
    Escalations,
    FeatureRequests,
)
from sales_graph.schema.upstream_loaders import UpstreamLoaders
from sales_graph.schema.users import User, user_by

if TYPE_CHECKING:
    from sales_graph.schema.opportunities import Opportunity

M = TypeVar("M")
T = TypeVar("T")


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

    from_row = from_attributes(ContactRow)


_ACCOUNT_OWNER = user_by(lambda source: source.row.owner_id)
_ACCOUNT_TERRITORY = territory_by(lambda source: source.row.territory_id)


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

    from_row = from_attributes(AccountRow)

    @strawberry.field(description="The rep who owns the account.", metadata=_ACCOUNT_OWNER.metadata)
    def owner(self, info: Info) -> User | None:
        return _ACCOUNT_OWNER.resolve(self, info)

    @strawberry.field(metadata=_ACCOUNT_TERRITORY.metadata)
    def territory(self, info: Info) -> Territory | None:
        return _ACCOUNT_TERRITORY.resolve(self, info)

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

    # The external systems' view of the account; null (with an error) when a system fails.
    async def _upstream(
        self,
        info: Info,
        loader: Callable[[UpstreamLoaders], Loader[str, M | None]],
        build: Callable[[M], T],
    ) -> T | None:
        return await load_one(loader(info.context.loaders.upstream), str(self.row.id), build)

    @strawberry.field(description="Customer Experience: health score.")
    async def health(self, info: Info) -> AccountHealth | None:
        return await self._upstream(info, lambda u: u.health, AccountHealth.from_model)

    @strawberry.field(description="Customer Experience: product usage.")
    async def usage(self, info: Info) -> AccountUsage | None:
        return await self._upstream(info, lambda u: u.usage, AccountUsage.from_model)

    @strawberry.field(description="Customer Experience: recent tickets.")
    async def tickets(self, info: Info) -> CustomerTickets | None:
        return await self._upstream(info, lambda u: u.tickets, CustomerTickets.from_model)

    @strawberry.field(description="Customer Experience: Net Promoter Score.")
    async def nps(self, info: Info) -> AccountNps | None:
        return await self._upstream(info, lambda u: u.nps, AccountNps.from_model)

    @strawberry.field(description="Support: critical tickets.")
    async def critical_tickets(self, info: Info) -> CriticalTickets | None:
        return await self._upstream(info, lambda u: u.critical_tickets, CriticalTickets.from_model)

    @strawberry.field(description="Support: escalations.")
    async def escalations(self, info: Info) -> Escalations | None:
        return await self._upstream(info, lambda u: u.escalations, Escalations.from_model)

    @strawberry.field(description="Support: feature requests.")
    async def feature_requests(self, info: Info) -> FeatureRequests | None:
        return await self._upstream(info, lambda u: u.feature_requests, FeatureRequests.from_model)


def account_by(key: Callable[[Any], uuid.UUID | None]) -> ToOne[Any, AccountRow, Account]:
    """The account a record names by ``key`` (schema/relations.py)."""
    return ToOne(key, lambda loaders: loaders.account, lambda row: Account.from_row(row))


@strawberry.type(description="A page of accounts: offset paging or cursors.")
class AccountConnection(Connection[Account]):
    total_count: int = total_count_of("accounts")
