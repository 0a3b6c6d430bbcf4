"""What the worker runs beside relays and consumers: a loop until ``stop`` is set."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Service(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...
