"""Schemathesis against ``/graphql`` in its GraphQL mode: queries and mutations, admin and rep.

Every root field is an operation; schemathesis generates documents and variables for it
(fuzzing) and chains mutations that return an object with an ``id`` into the fields that take
one (stateful). The check that matters is ``fuzz_no_internal_error``: no 5xx, and no error
whose ``extensions.code`` is INTERNAL_ERROR (an unexpected exception masked by the gateway).
"""

from __future__ import annotations

import pytest

from tests.fuzz.data import scalar_strategies
from tests.fuzz.gateway import LiveGateway
from tests.fuzz.harness import Target, assert_clean, run

# (Short profile: 20 documents for each of the 30 root fields, about 30 stateful steps.)
FLOORS = {"fuzzing": 400, "stateful": 10}


@pytest.mark.parametrize("caller", ["admin", "rep"])
def test_graphql(live_gateway: LiveGateway, caller: str) -> None:
    credentials = live_gateway.credentials
    token = credentials.admin if caller == "admin" else credentials.rep
    target = Target(
        name=f"graphql/{caller}/{live_gateway.database}",
        api="graphql",
        headers={"Authorization": token},
        floors=FLOORS,
    )
    outcome = run(target, live_gateway.base_url, scalars=scalar_strategies(live_gateway.seeded))
    assert_clean(outcome, target)
    # The caller's token worked throughout: no request was refused for its credentials.
    assert outcome.responses[401] == 0, outcome.responses
