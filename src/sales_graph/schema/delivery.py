"""One subscription event on its way out: the value its selection is executed on, the context
(a session, the scope and the loaders of its own) it is executed with, and what ends them.

The executor (``schema/limits.py``) runs the event's selection with ``context`` instead of the
connection's and closes the delivery as soon as the result is complete, before it is sent: a
slow client never holds a database connection.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Delivery:
    value: object
    context: object
    resources: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def close(self) -> None:
        """Ends the delivery's session (idempotent)."""
        await self.resources.aclose()

    async def closing(self, result: Awaitable[Any] | Any) -> Any:
        """``result`` of the event's execution, awaited; the delivery closed after it."""
        try:
            return await result if isinstance(result, Awaitable) else result
        finally:
            await self.close()
