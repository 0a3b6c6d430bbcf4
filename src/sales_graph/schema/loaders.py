"""One dataloader per relation, built per request: a page of N items costs one statement per
relation level, whatever N is. Each reads under the caller's access scope, like a root field:
a related record the caller may not see is null (or absent from a list)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine, Hashable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from aiodataloader import DataLoader

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
from sales_graph.schema.upstream_loaders import UpstreamLoaders

if TYPE_CHECKING:
    from sales_graph.schema.context import Context

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _by_key(keys: Sequence[K], rows: Sequence[V], key: Callable[[V], K]) -> list[V | None]:
    found = {key(row): row for row in rows}
    return [found.get(k) for k in keys]


def _grouped(keys: Sequence[K], pairs: Sequence[tuple[K, V]]) -> list[list[V]]:
    groups: dict[K, list[V]] = defaultdict(list)
    for k, value in pairs:
        groups[k].append(value)
    return [groups.get(k, []) for k in keys]


class Loaders:
    def __init__(self, context: Context) -> None:
        self._context = context
        self.user = self._loader(self._users)
        self.territory = self._loader(self._territories)
        self.territory_members = self._loader(self._territory_members)
        self.territory_rules = self._loader(self._territory_rules)
        self.account = self._loader(self._accounts)
        self.contacts_by_account = self._loader(self._contacts)
        self.lead = self._loader(self._leads)
        self.assignments_by_lead = self._loader(self._assignments)
        self.opportunity = self._loader(self._opportunities)
        self.opportunities_by_account = self._loader(self._account_opportunities)
        self.products_by_opportunity = self._loader(self._products)
        self.history_by_opportunity = self._loader(self._history)
        # Reads of the external systems, deduplicated and fanned out with bounded concurrency.
        settings = context.runtime.settings
        self.upstream = UpstreamLoaders(
            context.runtime.connectors,
            concurrency={
                system: getattr(settings, system).max_connections
                for system in ("marketing", "customer_experience", "support", "billing", "finance")
            },
        )

    @staticmethod
    def _loader(
        batch: Callable[[list[Any]], Coroutine[Any, Any, list[Any]]],
    ) -> DataLoader[Any, Any]:
        return DataLoader(batch_load_fn=batch, max_batch_size=500)

    async def _users(self, ids: list[uuid.UUID]) -> list[User | None]:
        scope = await self._context.scope()
        rows = await self._context.run(lambda session: users.by_ids(session, scope, ids))
        return _by_key(ids, rows, lambda u: u.id)

    async def _territories(self, ids: list[uuid.UUID]) -> list[Territory | None]:
        scope = await self._context.scope()
        rows = await self._context.run(lambda session: territories.by_ids(session, scope, ids))
        return _by_key(ids, rows, lambda t: t.id)

    async def _territory_members(self, ids: list[uuid.UUID]) -> list[list[User]]:
        scope = await self._context.scope()
        pairs = await self._context.run(lambda session: territories.members_of(session, scope, ids))
        return _grouped(ids, pairs)

    async def _territory_rules(self, ids: list[uuid.UUID]) -> list[list[TerritoryRule]]:
        scope = await self._context.scope()
        rules = await self._context.run(lambda session: territories.rules_of(session, scope, ids))
        return _grouped(ids, [(r.territory_id, r) for r in rules])

    async def _accounts(self, ids: list[uuid.UUID]) -> list[Account | None]:
        scope = await self._context.scope()
        rows = await self._context.run(lambda session: accounts.by_ids(session, scope, ids))
        return _by_key(ids, rows, lambda a: a.id)

    async def _contacts(self, ids: list[uuid.UUID]) -> list[list[Contact]]:
        scope = await self._context.scope()
        rows = await self._context.run(lambda session: accounts.contacts_of(session, scope, ids))
        return _grouped(ids, [(c.account_id, c) for c in rows])

    async def _leads(self, ids: list[uuid.UUID]) -> list[Lead | None]:
        scope = await self._context.scope()
        rows = await self._context.run(lambda session: leads.by_ids(session, scope, ids))
        return _by_key(ids, rows, lambda lead: lead.id)

    async def _assignments(self, ids: list[uuid.UUID]) -> list[list[LeadAssignment]]:
        scope = await self._context.scope()
        rows = await self._context.run(lambda session: leads.assignments_of(session, scope, ids))
        return _grouped(ids, [(a.lead_id, a) for a in rows])

    async def _opportunities(self, ids: list[uuid.UUID]) -> list[Opportunity | None]:
        scope = await self._context.scope()
        rows = await self._context.run(lambda session: opportunities.by_ids(session, scope, ids))
        return _by_key(ids, rows, lambda o: o.id)

    async def _account_opportunities(self, ids: list[uuid.UUID]) -> list[list[Opportunity]]:
        scope = await self._context.scope()
        rows = await self._context.run(
            lambda session: opportunities.of_accounts(session, scope, ids)
        )
        return _grouped(ids, [(o.account_id, o) for o in rows])

    async def _products(self, ids: list[uuid.UUID]) -> list[list[OpportunityProduct]]:
        scope = await self._context.scope()
        rows = await self._context.run(
            lambda session: opportunities.products_of(session, scope, ids)
        )
        return _grouped(ids, [(p.opportunity_id, p) for p in rows])

    async def _history(self, ids: list[uuid.UUID]) -> list[list[OpportunityHistory]]:
        scope = await self._context.scope()
        rows = await self._context.run(
            lambda session: opportunities.history_of(session, scope, ids)
        )
        return _grouped(ids, [(h.opportunity_id, h) for h in rows])
