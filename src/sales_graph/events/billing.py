"""Billing: a contract created for every closed-won opportunity."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sales_graph.events.consumer import MessageHandler

if TYPE_CHECKING:
    from sales_graph.runtime import Runtime


def closed_won_handler(runtime: Runtime) -> MessageHandler:
    raise NotImplementedError("being written (issue 8)")
