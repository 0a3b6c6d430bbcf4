"""One dataloader per relation, built per request: a page of N items costs one statement per
relation level, whatever N is. Each reads under the caller's access scope, like a root field:
a related record the caller may not see is null (or absent from a list)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

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
    def __init__(self, context: Context) -> None:
        self._context = context
        self.user = self._record(users.by_ids, lambda u: u.id)
        self.territory = self._record(territories.by_ids, lambda t: t.id)
        self.territory_members = self._related(territories.members_of, lambda pair: pair)
        self.territory_rules = self._related(territories.rules_of, lambda r: (r.territory_id, r))
        self.account = self._record(accounts.by_ids, lambda a: a.id)
        self.contacts_by_account = self._related(accounts.contacts_of, lambda c: (c.account_id, c))
        self.lead = self._record(leads.by_ids, lambda lead: lead.id)
        self.assignments_by_lead = self._related(leads.assignments_of, lambda a: (a.lead_id, a))
        self.opportunity = self._record(opportunities.by_ids, lambda o: o.id)
        self.opportunities_by_account = self._related(
            opportunities.of_accounts, lambda o: (o.account_id, o)
        )
        self.products_by_opportunity = self._related(
            opportunities.products_of, lambda p: (p.opportunity_id, p)
        )
        self.history_by_opportunity = self._related(
            opportunities.history_of, lambda h: (h.opportunity_id, h)
        )
        # Reads of the external systems, deduplicated and fanned out with bounded concurrency.
        settings = context.runtime.settings
        self.upstream = UpstreamLoaders(
            context.runtime.connectors,
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
