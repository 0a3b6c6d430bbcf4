"""Caches keyed by GraphQL document text, bounded by entries and by bytes.

A cache keyed by request content is memory that callers can fill: so only authenticated callers'
documents are kept, a document longer than ``MAX_ENTRY_BYTES`` is never kept, and the texts kept
together stay under ``MAX_BYTES`` (a parsed document takes a few times its text's size).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Generic, TypeVar

V = TypeVar("V")

MAX_ENTRIES = 1024
MAX_BYTES = 2 * 1024 * 1024
MAX_ENTRY_BYTES = 16 * 1024


def cacheable(text: str, context: Any) -> bool:
    """Whether a document may be kept: an authenticated caller's, and not too long."""
    principal = getattr(context, "principal", None)
    return principal is not None and len(text) <= MAX_ENTRY_BYTES


@dataclass(eq=False)
class DocumentCache(Generic[V]):
    """Least recently used first out, by entries and by the bytes of the texts."""

    _: KW_ONLY
    max_entries: int = MAX_ENTRIES
    max_bytes: int = MAX_BYTES
    max_entry_bytes: int = MAX_ENTRY_BYTES
    _entries: OrderedDict[Hashable, tuple[int, V]] = field(default_factory=OrderedDict, init=False)
    bytes: int = field(default=0, init=False)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> V | None:
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[1]

    def put(self, key: Hashable, text: str, value: V) -> None:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self.max_entry_bytes or key in self._entries:
            return
        self._entries[key] = (size, value)
        self.bytes += size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            _, (dropped, _) = self._entries.popitem(last=False)
            self.bytes -= dropped
