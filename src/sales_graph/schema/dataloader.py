"""aiodataloader's ``DataLoader`` with its key and value types checked.

``DataLoader`` types its batch function as returning a ``list`` of values, but rejects the load
of any key whose value is an ``Exception``: a loader whose batch fails some keys would have to
be typed with ``Exception`` among its values and every caller would see it. ``Loader[K, V]``
says it once: the batch returns a ``V`` or an ``Exception`` per key, ``load`` gives a ``V``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, TypeVar, cast

from aiodataloader import DataLoader

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Keys per batch function call; a GraphQL page is at most MAX_PAGE_SIZE (200) rows.
MAX_BATCH_SIZE = 500

BatchFunction = Callable[[Sequence[K]], Awaitable[Sequence[V | Exception]]]

# What ``Loader.loaded`` gives for a key whose value is not known (yet).
NOT_LOADED: Any = object()


class Loader(Generic[K, V]):
    """Loads of one tick batched into one ``batch`` call, each key loaded once per loader."""

    def __init__(self, batch: BatchFunction[K, V], *, max_batch_size: int = MAX_BATCH_SIZE) -> None:
        self._batch = batch
        self._loader = DataLoader[K, V](batch_load_fn=self._dispatch, max_batch_size=max_batch_size)
        self._values: dict[K, V] = {}

    def load(self, key: K) -> asyncio.Future[V]:
        return self._loader.load(key)

    def load_many(self, keys: Iterable[K]) -> asyncio.Future[list[V]]:
        return self._loader.load_many(keys)

    def loaded(self, key: K) -> V:
        """The key's value when a batch has loaded it already, else ``NOT_LOADED`` (a key whose
        load failed is not loaded: ``load`` gives its error)."""
        return cast("V", self._values.get(key, NOT_LOADED))

    async def _dispatch(self, keys: list[K]) -> list[V]:
        # An Exception among the values rejects that key's load alone (aiodataloader).
        values = list(await self._batch(keys))
        for key, value in zip(keys, values, strict=True):
            if not isinstance(value, Exception):
                self._values[key] = value
        return cast("list[V]", values)


__all__ = ["NOT_LOADED", "BatchFunction", "Loader"]
