"""Forecast generation: the daily run and the recalculation after opportunity changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sales_graph.events.consumer import MessageHandler

if TYPE_CHECKING:
    from sales_graph.events.runtime import Service
    from sales_graph.runtime import Runtime


def refresh_handler(runtime: Runtime) -> MessageHandler:
    raise NotImplementedError("being written (issue 8)")


def services(runtime: Runtime) -> list[Service]:
    return []
