"""One dataloader per relation, built per request: a page of N items costs one statement per
relation level, whatever N is. Each reads under the caller's access scope, like a root field:
a related record the caller may not see is null (or absent from a list)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from sales_graph.db.models import (
    Account,
    Contact,
    Lead,
    LeadAssignment,
    Opportunity,
    OpportunityHistory,
    OpportunityProduct,
    Territory,
    TerritoryRule,
    User,
)
from sales_graph.db.repositories import accounts, leads, opportunities, territories, users
from sales_graph.domain.scope import AccessScope
from sales_graph.schema.dataloader import Loader
from sales_graph.schema.upstream_loaders import UpstreamLoaders
from sales_graph.settings import UPSTREAM_SYSTEMS

if TYPE_CHECKING:
    from sales_graph.schema.context import Context

R = TypeVar("R")
V = TypeVar("V")
# A repository read of the rows related to some ids, under the caller's scope.
Read = Callable[[AsyncSession, AccessScope, Sequence[uuid.UUID]], Awaitable[list[R]]]


class Loaders:
    """The request's loaders, each built on its first use: most requests use a few of them."""

    def __init__(self, context: Context) -> None:
        self._context = context

    @cached_property
    def user(self) -> Loader[uuid.UUID, User | None]:
        return self._record(users.by_ids, lambda u: u.id)

    @cached_property
    def territory(self) -> Loader[uuid.UUID, Territory | None]:
        return self._record(territories.by_ids, lambda t: t.id)

    @cached_property
    def territory_members(self) -> Loader[uuid.UUID, list[User]]:
        return self._related(territories.members_of, lambda pair: pair)

    @cached_property
    def territory_rules(self) -> Loader[uuid.UUID, list[TerritoryRule]]:
        return self._related(territories.rules_of, lambda r: (r.territory_id, r))

    @cached_property
    def account(self) -> Loader[uuid.UUID, Account | None]:
        return self._record(accounts.by_ids, lambda a: a.id)

    @cached_property
    def contacts_by_account(self) -> Loader[uuid.UUID, list[Contact]]:
        return self._related(accounts.contacts_of, lambda c: (c.account_id, c))

    @cached_property
    def lead(self) -> Loader[uuid.UUID, Lead | None]:
        return self._record(leads.by_ids, lambda lead: lead.id)

    @cached_property
    def assignments_by_lead(self) -> Loader[uuid.UUID, list[LeadAssignment]]:
        return self._related(leads.assignments_of, lambda a: (a.lead_id, a))

    @cached_property
    def opportunity(self) -> Loader[uuid.UUID, Opportunity | None]:
        return self._record(opportunities.by_ids, lambda o: o.id)

    @cached_property
    def opportunities_by_account(self) -> Loader[uuid.UUID, list[Opportunity]]:
        return self._related(opportunities.of_accounts, lambda o: (o.account_id, o))

    @cached_property
    def products_by_opportunity(self) -> Loader[uuid.UUID, list[OpportunityProduct]]:
        return self._related(opportunities.products_of, lambda p: (p.opportunity_id, p))

    @cached_property
    def history_by_opportunity(self) -> Loader[uuid.UUID, list[OpportunityHistory]]:
        return self._related(opportunities.history_of, lambda h: (h.opportunity_id, h))

    @cached_property
    def upstream(self) -> UpstreamLoaders:
        """Reads of the external systems, deduplicated and fanned out with bounded concurrency."""
        settings = self._context.runtime.settings
        return UpstreamLoaders(
            self._context.runtime.connectors,
            concurrency={
                system: settings.upstream(system).max_connections for system in UPSTREAM_SYSTEMS
            },
        )

    def _record(
        self, read: Read[R], id_of: Callable[[R], uuid.UUID]
    ) -> Loader[uuid.UUID, R | None]:
        """Each id's row, or None when the caller may not see it (or there is none)."""

        async def batch(ids: Sequence[uuid.UUID]) -> list[R | None]:
            found = {id_of(row): row for row in await self._rows(read, ids)}
            return [found.get(i) for i in ids]

        return Loader(batch)

    def _related(
        self, read: Read[R], pair: Callable[[R], tuple[uuid.UUID, V]]
    ) -> Loader[uuid.UUID, list[V]]:
        """Each id's related rows (``pair``: the row's owner id and value) the caller may see."""

        async def batch(ids: Sequence[uuid.UUID]) -> list[list[V]]:
            groups: dict[uuid.UUID, list[V]] = defaultdict(list)
            for owner, value in map(pair, await self._rows(read, ids)):
                groups[owner].append(value)
            return [groups.get(i, []) for i in ids]

        return Loader(batch)

    async def _rows(self, read: Read[R], ids: Sequence[uuid.UUID]) -> list[R]:
        scope = await self._context.scope()
        return await self._context.run(lambda session: read(session, scope, ids))
