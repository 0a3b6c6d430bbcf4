"""aiodataloader's ``DataLoader`` with its key and value types checked.

``DataLoader`` types its batch function as returning a ``list`` of values, but rejects the load
of any key whose value is an ``Exception``: a loader whose batch fails some keys would have to
be typed with ``Exception`` among its values and every caller would see it. ``Loader[K, V]``
says it once: the batch returns a ``V`` or an ``Exception`` per key, ``load`` gives a ``V``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Generic, TypeVar, cast

from aiodataloader import DataLoader

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Keys per batch function call; a GraphQL page is at most MAX_PAGE_SIZE (200) rows.
MAX_BATCH_SIZE = 500

BatchFunction = Callable[[Sequence[K]], Awaitable[Sequence[V | Exception]]]


class Loader(Generic[K, V]):
    """Loads of one tick batched into one ``batch`` call, each key loaded once per loader."""

    def __init__(self, batch: BatchFunction[K, V], *, max_batch_size: int = MAX_BATCH_SIZE) -> None:
        self._batch = batch
        self._loader = DataLoader[K, V](batch_load_fn=self._dispatch, max_batch_size=max_batch_size)

    def load(self, key: K) -> asyncio.Future[V]:
        return self._loader.load(key)

    def load_many(self, keys: Iterable[K]) -> asyncio.Future[list[V]]:
        return self._loader.load_many(keys)

    async def _dispatch(self, keys: list[K]) -> list[V]:
        # An Exception among the values rejects that key's load alone (aiodataloader).
        return cast("list[V]", list(await self._batch(keys)))


__all__ = ["BatchFunction", "Loader"]
