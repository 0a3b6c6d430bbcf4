"""Accounts and their contacts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import Account, Contact
from sales_graph.db.paging import orders_of
from sales_graph.db.repositories.scoped import ScopedReads, contains, equal_where_given
from sales_graph.db.visibility import account_visible
from sales_graph.domain.scope import AccessScope

ORDERS = orders_of(
    "accounts",
    col(Account.id),
    ("NAME_ASC", col(Account.name_normalized), False, "str", lambda r: r.name_normalized),
    ("CREATED_AT_DESC", col(Account.created_at), True, "datetime", lambda r: r.created_at),
)


@dataclass(frozen=True, slots=True)
class AccountFilter:
    owner_id: uuid.UUID | None = None
    territory_id: uuid.UUID | None = None
    search: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        clauses = equal_where_given(
            (Account.owner_id, self.owner_id), (Account.territory_id, self.territory_id)
        )
        if self.search:
            clauses.append(contains(self.search, Account.name_normalized, Account.domain))
        return clauses


async def find_for_company(
    session: AsyncSession, scope: AccessScope, name_normalized: str | None, domain: str | None
) -> Account | None:
    """A visible account with the same company name or email domain (name first); a caller
    who may not read accounts sees none."""
    if not scope.has_scope("accounts:read"):
        return None
    for clause in (
        col(Account.name_normalized) == name_normalized if name_normalized else None,
        col(Account.domain) == domain if domain else None,
    ):
        if clause is not None:
            statement = (
                _reads.select(scope).where(clause).order_by(col(Account.created_at)).limit(1)
            )
            if (found := (await session.exec(statement)).first()) is not None:
                return found
    return None


async def has_primary_contact(session: AsyncSession, account_id: uuid.UUID) -> bool:
    statement = select(Contact.id).where(
        Contact.account_id == account_id, col(Contact.is_primary).is_(True)
    )
    return (await session.exec(statement.limit(1))).first() is not None


_reads: ScopedReads[Account, AccountFilter] = ScopedReads(Account, account_visible, ORDERS)
get, by_ids, page, count = _reads.get, _reads.by_ids, _reads.page, _reads.count


async def contacts_of(
    session: AsyncSession, scope: AccessScope, account_ids: Sequence[uuid.UUID]
) -> list[Contact]:
    """The contacts of the accounts the scope sees."""
    order = (col(Contact.is_primary).desc(), col(Contact.last_name), col(Contact.id))
    return await _reads.lines_of(
        session, scope, Contact, col(Contact.account_id), account_ids, order
    )
