"""To-one relations (a lead's rep, an opportunity's account ...): read through the request's
loaders, without a task per item when the page's keys were loaded ahead.

A relation names, once, the related record's key on its parent, the loader that reads such
records (under the caller's access scope) and the GraphQL type built from a row. Its field:

* resolves at once, without a coroutine, when the loader holds the key's record;
* else returns the awaitable load, which the executor awaits (and batches with the page's
  other loads, as before).

The executor (``schema/execution.py``) looks ahead: before it completes a list of objects whose
selection asks for such a relation, it loads the keys of the whole list in one batch, so that
every item's field then resolves at once. The answer is the same either way: the same loader,
the same batch, the same error for a key whose load failed (a failed key is not held, and its
field awaits the loader's failed load as before).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from sales_graph.schema.dataloader import NOT_LOADED, Loader

if TYPE_CHECKING:
    from sales_graph.schema.context import Context, Info
    from sales_graph.schema.loaders import Loaders

S = TypeVar("S")
R = TypeVar("R")
Item = TypeVar("Item")

# The key of a field's metadata (``strawberry.field(metadata=...)``) that holds its relation.
RELATION = "sales_graph.to_one"


@dataclass(frozen=True, slots=True)
class ToOne(Generic[S, R, Item]):
    key: Callable[[S], uuid.UUID | None]
    loader: Callable[[Loaders], Loader[uuid.UUID, R | None]]
    build: Callable[[R], Item]

    @property
    def metadata(self) -> dict[str, Any]:
        return {RELATION: self}

    def resolve(self, source: S, info: Info) -> Item | None:
        """The related record, now when it is loaded; else the awaitable load (the executor
        awaits what a resolver returns), typed as its result for the field's annotation."""
        return self.resolve_in(info.context, source)

    def resolve_in(self, context: Context, source: S) -> Item | None:
        """:meth:`resolve` given the request's context."""
        key = self.key(source)
        if not key:
            return None
        loader = self.loader(context.loaders)
        found = loader.loaded(key)
        if found is NOT_LOADED:
            return cast("Item | None", self._load(loader, key))
        return None if found is None else self.build(found)

    async def _load(self, loader: Loader[uuid.UUID, R | None], key: uuid.UUID) -> Item | None:
        found = await loader.load(key)
        return None if found is None else self.build(found)

    def load_ahead(self, context: Context, sources: Sequence[Any]) -> Awaitable[Any] | None:
        """Loads the keys of ``sources`` in one batch (None when none has a key)."""
        keys = [key for key in dict.fromkeys(map(self.key, sources)) if key]
        if not keys:
            return None
        return self.loader(context.loaders).load_many(keys)
