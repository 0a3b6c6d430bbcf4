"""The typed loader over aiodataloader: batching, per-key failures, batch size."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from sales_graph.schema.dataloader import Loader


class Batches:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    async def __call__(self, keys: Sequence[int]) -> list[str | Exception]:
        self.calls.append(list(keys))
        return [ValueError(f"no {k}") if k < 0 else str(k) for k in keys]


async def test_the_loads_of_one_tick_are_one_batch_and_a_key_is_loaded_once() -> None:
    batches = Batches()
    loader = Loader(batches)
    values = await asyncio.gather(loader.load(1), loader.load(2), loader.load(1))
    assert values == ["1", "2", "1"]
    assert await loader.load_many([2, 3]) == ["2", "3"]
    assert batches.calls == [[1, 2], [3]]


async def test_an_exception_in_the_batch_fails_its_own_key_only() -> None:
    loader = Loader(Batches())
    good, bad = await asyncio.gather(loader.load(4), loader.load(-4), return_exceptions=True)
    assert good == "4"
    assert isinstance(bad, ValueError)
    with pytest.raises(ValueError, match="no -5"):
        await loader.load(-5)


async def test_a_long_tick_is_split_at_the_batch_size() -> None:
    batches = Batches()
    loader = Loader(batches, max_batch_size=3)
    assert await loader.load_many(range(7)) == [str(k) for k in range(7)]
    assert [len(call) for call in batches.calls] == [3, 3, 1]
