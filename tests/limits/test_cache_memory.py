"""The caches keyed by request content stay within their bounds in memory, measured: distinct
documents past the bound cost no more memory than the bound already held."""

from __future__ import annotations

import gc
import tracemalloc
import uuid

from sales_graph.schema.doccache import MAX_BYTES
from tests.limits.conftest import Api


async def _send(api: Api, count: int, headers: dict[str, str]) -> None:
    for _ in range(count):
        # Each document distinct and near the largest kept (16 KiB): a comment costs no tokens.
        text = f"# {uuid.uuid4().hex * 370}\n{{ health {{ status }} }}"
        response = await api.client.post("/graphql", json={"query": text}, headers=headers)
        assert response.status_code == 200, response.text


def _held() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


async def test_distinct_documents_do_not_grow_memory_past_the_bound(api: Api) -> None:
    admin = api.admin()
    tracemalloc.start()
    try:
        # 200 documents of ~12 KiB fill the caches past their 2 MiB of text ...
        await _send(api, 200, admin)
        full = _held()
        # ... and 400 more replace what they hold instead of adding to it.
        await _send(api, 400, admin)
        after = _held()
        # Anonymous callers' documents are not kept at all.
        await _send(api, 200, {})
        anonymous = _held()
    finally:
        tracemalloc.stop()
    assert after - full < MAX_BYTES, (full, after)
    assert anonymous - after < MAX_BYTES // 2, (after, anonymous)
