"""Connectors: the only code that talks to the external systems over HTTP.

Each system has a package with a typed client (``MarketingClient``, ``CustomerExperienceClient``,
``SupportClient``, ``BillingClient``, ``FinanceClient``) built on ``base.UpstreamClient``, which
owns timeouts, the deadline, retries, the circuit breaker, the read cache and error mapping.
The composition root calls :func:`build_connectors` once and :meth:`Connectors.aclose` at exit.
Behaviour and payloads are described in ``docs/upstreams.md``.
"""

from __future__ import annotations

from sales_graph.connectors.base import UpstreamClient, map_transport_errors
from sales_graph.connectors.billing import BillingClient
from sales_graph.connectors.breaker import BreakerState, CircuitBreaker
from sales_graph.connectors.build import Connectors, build_connectors
from sales_graph.connectors.cache import Cache, CacheEntry, InProcessCache, RedisCache
from sales_graph.connectors.customer_experience import CustomerExperienceClient
from sales_graph.connectors.errors import (
    CircuitOpen,
    InvalidPayload,
    UpstreamNotFound,
    UpstreamRejected,
)
from sales_graph.connectors.finance import FinanceClient
from sales_graph.connectors.marketing import MarketingClient
from sales_graph.connectors.models import Money, UpstreamModel, UpstreamRequest
from sales_graph.connectors.retry import RetryPolicy
from sales_graph.connectors.support import SupportClient
from sales_graph.connectors.system_client import SystemClient

__all__ = [
    "BillingClient",
    "BreakerState",
    "Cache",
    "CacheEntry",
    "CircuitBreaker",
    "CircuitOpen",
    "Connectors",
    "CustomerExperienceClient",
    "FinanceClient",
    "InProcessCache",
    "InvalidPayload",
    "MarketingClient",
    "Money",
    "RedisCache",
    "RetryPolicy",
    "SupportClient",
    "SystemClient",
    "UpstreamClient",
    "UpstreamModel",
    "UpstreamNotFound",
    "UpstreamRejected",
    "UpstreamRequest",
    "build_connectors",
    "map_transport_errors",
]
