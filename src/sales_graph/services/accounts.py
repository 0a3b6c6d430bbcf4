"""Accounts: reads (conversion creates them; see the opportunity services)."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Account
from sales_graph.db.paging import PageRequest, PageResult
from sales_graph.db.repositories import accounts as account_repo
from sales_graph.db.repositories.accounts import ORDERS, AccountFilter
from sales_graph.domain.scope import AccessScope
from sales_graph.services.validation import found


async def visible_account(
    session: AsyncSession, scope: AccessScope, account_id: uuid.UUID
) -> Account:
    return found(await account_repo.get(session, scope, account_id), "Account", "account_id")


async def list_accounts(
    session: AsyncSession, scope: AccessScope, where: AccountFilter, order: str, page: PageRequest
) -> PageResult[Account]:
    return await account_repo.page(session, scope, where, ORDERS[order], page)


async def count_accounts(session: AsyncSession, scope: AccessScope, where: AccountFilter) -> int:
    return await account_repo.count(session, scope, where)
