"""Accounts: reads (conversion creates them; see the opportunity services)."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Account
from sales_graph.db.repositories import accounts as account_repo
from sales_graph.domain.scope import AccessScope
from sales_graph.services.validation import found


async def visible_account(
    session: AsyncSession, scope: AccessScope, account_id: uuid.UUID
) -> Account:
    return found(await account_repo.get(session, scope, account_id), "Account", "account_id")


# Lists and counts are read as the repository reads them: the scope's visibility is the only rule.
list_accounts = account_repo.page
count_accounts = account_repo.count
