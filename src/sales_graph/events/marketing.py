"""Marketing's ``lead.qualified`` events: validated, then the lead created or updated once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sales_graph.events.consumer import MessageHandler

if TYPE_CHECKING:
    from sales_graph.runtime import Runtime


def lead_qualified_handler(runtime: Runtime) -> MessageHandler:
    raise NotImplementedError("being written (issue 8)")
