"""The errors a connector raises, refining ``sales_graph.errors`` where a caller may care.

* UpstreamError (sales_graph.errors)
  * UpstreamUnavailable           transport error, 5xx, 429, open circuit, not configured
    * CircuitOpen                 failed fast: the system's breaker is open or probing
    * InvalidPayload              2xx with a body that is not the model (or is too large)
    * UpstreamRejected            a 4xx other than 404 and 429: our request or credentials
  * UpstreamTimeout               the deadline or a socket timeout passed
* NotFound (sales_graph.errors)
  * UpstreamNotFound              404: the system does not know the id

Every error carries ``details`` with at least ``system``; HTTP failures add ``status``,
``method`` and ``path``. ``UpstreamNotFound`` is a ``NotFound`` rather than an upstream failure
because the system answered correctly: it neither trips the breaker nor serves a stale value.
"""

from __future__ import annotations

from sales_graph.errors import NotFound, UpstreamUnavailable


class CircuitOpen(UpstreamUnavailable):
    default_message = "An upstream system is failing; calls are suspended"


class InvalidPayload(UpstreamUnavailable):
    default_message = "An upstream system sent an invalid payload"


class UpstreamRejected(UpstreamUnavailable):
    default_message = "An upstream system rejected the request"


class UpstreamNotFound(NotFound):
    default_message = "The upstream system does not know this resource"


__all__ = ["CircuitOpen", "InvalidPayload", "UpstreamNotFound", "UpstreamRejected"]
