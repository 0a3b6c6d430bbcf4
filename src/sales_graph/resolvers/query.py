"""The root Query type."""

from __future__ import annotations

import strawberry

from sales_graph import __version__
from sales_graph.db.repositories.accounts import AccountFilter
from sales_graph.db.repositories.leads import LeadFilter
from sales_graph.domain import LeadStatus as LeadStatusValue
from sales_graph.domain import Role as RoleValue
from sales_graph.resolvers.common import optional_id, page_of, paging, read, search_text
from sales_graph.resolvers.finance import FinanceQueries
from sales_graph.resolvers.opportunities import OpportunityQueries
from sales_graph.resolvers.webhooks import WebhookQueries
from sales_graph.schema.accounts import Account, AccountConnection, AccountOrder
from sales_graph.schema.common import parse_id
from sales_graph.schema.context import Info
from sales_graph.schema.leads import Lead, LeadConnection, LeadOrder
from sales_graph.schema.system import Health
from sales_graph.schema.territories import Territory
from sales_graph.schema.users import User
from sales_graph.services import accounts, leads, territories, users


@strawberry.type
class Query(OpportunityQueries, FinanceQueries, WebhookQueries):
    @strawberry.field(description="The gateway answers.")
    def health(self) -> Health:
        return Health(status="ok", version=__version__)

    @strawberry.field(description="The authenticated user.")
    async def me(self, info: Info) -> User:
        row = await info.context.run(
            lambda session: users.current_user(session, info.context.principal)
        )
        return User.from_row(row)

    @strawberry.field(description="The leads the caller may see, filtered, sorted and paged.")
    async def leads(
        self,
        info: Info,
        status: LeadStatusValue | None = None,
        assigned_to: strawberry.ID | None = None,
        territory_id: strawberry.ID | None = None,
        limit: int | None = None,
        offset: int | None = None,
        search: str | None = None,
        order_by: LeadOrder = LeadOrder.CREATED_AT_DESC,
        first: int | None = None,
        after: str | None = None,
    ) -> LeadConnection:
        page = paging(info, limit=limit, offset=offset, first=first, after=after)
        where = LeadFilter(
            status=status.value if status else None,
            assigned_to_id=optional_id(assigned_to, "assignedTo"),
            territory_id=optional_id(territory_id, "territoryId"),
            search=search_text(search),
        )
        return await page_of(
            info,
            LeadConnection,
            Lead.from_row,
            page,
            where,
            order_by.value,
            rows=leads.list_leads,
            count=leads.count_leads,
        )

    @strawberry.field(description="One lead; NOT_FOUND when it does not exist or is not visible.")
    async def lead(self, info: Info, id: strawberry.ID) -> Lead:
        lead_id = parse_id(id, "id")
        return Lead.from_row(
            await read(info, lambda s, scope: leads.visible_lead(s, scope, lead_id))
        )

    @strawberry.field(description="The accounts the caller may see.")
    async def accounts(
        self,
        info: Info,
        owner_id: strawberry.ID | None = None,
        territory_id: strawberry.ID | None = None,
        search: str | None = None,
        order_by: AccountOrder = AccountOrder.NAME_ASC,
        limit: int | None = None,
        offset: int | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> AccountConnection:
        page = paging(info, limit=limit, offset=offset, first=first, after=after)
        where = AccountFilter(
            owner_id=optional_id(owner_id, "ownerId"),
            territory_id=optional_id(territory_id, "territoryId"),
            search=search_text(search),
        )
        return await page_of(
            info,
            AccountConnection,
            Account.from_row,
            page,
            where,
            order_by.value,
            rows=accounts.list_accounts,
            count=accounts.count_accounts,
        )

    @strawberry.field(
        description="One account; NOT_FOUND when it does not exist or is not visible."
    )
    async def account(self, info: Info, id: strawberry.ID) -> Account:
        account_id = parse_id(id, "id")
        row = await read(info, lambda s, scope: accounts.visible_account(s, scope, account_id))
        return Account.from_row(row)

    @strawberry.field(description="Territories, by priority.")
    async def territories(
        self, info: Info, owner_id: strawberry.ID | None = None, is_active: bool | None = None
    ) -> list[Territory]:
        owner = optional_id(owner_id, "ownerId")
        rows = await read(
            info,
            lambda s, scope: territories.list_territories(
                s, scope, owner_id=owner, is_active=is_active
            ),
        )
        return [Territory.from_row(row) for row in rows]

    @strawberry.field
    async def territory(self, info: Info, id: strawberry.ID) -> Territory:
        territory_id = parse_id(id, "id")
        row = await read(info, lambda s, scope: territories.get_territory(s, scope, territory_id))
        return Territory.from_row(row)

    @strawberry.field(description="The people of the sales organisation.")
    async def users(
        self,
        info: Info,
        role: RoleValue | None = None,
        is_active: bool | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[User]:
        page = paging(info, limit=limit, offset=offset, first=None, after=None)
        rows = await read(
            info,
            lambda s, scope: users.list_users(
                s, scope, role=role.value if role else None, is_active=is_active, page=page
            ),
        )
        return [User.from_row(row) for row in rows]
