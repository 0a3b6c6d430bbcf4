"""Working HTTP fakes of the external systems (Marketing, Customer Experience, Support, Billing,
Finance), with deterministic seeded data, fault knobs and a record of what they received.

They are the test seam of ``sales_graph.connectors``, as ``httpx.MockTransport`` is httpx's, but
over real HTTP. Payloads are described in ``docs/upstreams.md``.
"""

from __future__ import annotations

from sales_graph.simulators.core import Knobs, PayloadMode, RecordedRequest, Simulator, SystemApi
from sales_graph.simulators.runner import (
    DEFAULT_BASE_PORT,
    RunningSimulators,
    run_forever,
    serve_simulators,
)
from sales_graph.simulators.systems import SYSTEMS, create_simulator, default_api_key

__all__ = [
    "DEFAULT_BASE_PORT",
    "SYSTEMS",
    "Knobs",
    "PayloadMode",
    "RecordedRequest",
    "RunningSimulators",
    "Simulator",
    "SystemApi",
    "create_simulator",
    "default_api_key",
    "run_forever",
    "serve_simulators",
]
