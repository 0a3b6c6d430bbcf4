"""The caches keyed by GraphQL document text are bounded by entries and by bytes (pure logic)."""

from __future__ import annotations

from types import SimpleNamespace

from sales_graph.schema.doccache import MAX_ENTRY_BYTES, DocumentCache, cacheable


def test_bounded_by_bytes_least_recently_used_first_out() -> None:
    cache = DocumentCache[int](max_entries=100, max_bytes=30, max_entry_bytes=20)
    for n, text in enumerate(["a" * 10, "b" * 10, "c" * 10]):
        cache.put(text, text, n)
    assert cache.get("a" * 10) == 0  # now the most recently used
    cache.put("d" * 10, "d" * 10, 3)
    assert cache.get("b" * 10) is None
    assert [cache.get(t * 10) for t in "acd"] == [0, 2, 3]
    assert cache.bytes == 30
    assert len(cache) == 3


def test_bounded_by_entries_and_entry_size() -> None:
    cache = DocumentCache[int](max_entries=2, max_bytes=10_000, max_entry_bytes=20)
    cache.put("x" * 21, "x" * 21, 1)
    assert cache.get("x" * 21) is None
    assert cache.bytes == 0
    for n in range(5):
        cache.put(str(n), str(n), n)
    assert len(cache) == 2
    assert [cache.get("3"), cache.get("4")] == [3, 4]
    # Bytes, not characters: a document of multi-byte characters counts its UTF-8 size.
    wide = DocumentCache[int](max_entries=10, max_bytes=100, max_entry_bytes=10)
    wide.put("é" * 6, "é" * 6, 1)
    assert wide.get("é" * 6) is None


def test_only_authenticated_callers_documents_are_kept() -> None:
    signed_in = SimpleNamespace(principal=object())
    anonymous = SimpleNamespace(principal=None)
    assert cacheable("{ me { id } }", signed_in)
    assert not cacheable("{ me { id } }", anonymous)
    assert not cacheable("{ me { id } }", None)
    assert not cacheable("#" * (MAX_ENTRY_BYTES + 1), signed_in)
