"""Schemathesis against ``/openapi.json``: every phase, every check, as every kind of caller.

With valid credentials (an admin, a manager, a rep, a partner key with every scope and one
with ``leads:read`` only) nothing may be a 5xx and every check must pass, with the statuses
``tests/fuzz/harness.py`` accepts (each one justified there). Without valid credentials (none,
credentials schemathesis makes up, a validly signed token of a user that does not exist) every
answer must be a 401 with the error envelope and ``WWW-Authenticate``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fuzz.gateway import Credentials, LiveGateway
from tests.fuzz.harness import Acceptance, Target, assert_clean, run
from tests.fuzz.profile import PROFILE
from tests.rest.test_schemathesis import CURSOR_RULES, FREE_FORM_LIMITS

# A broken harness (schema not loaded, every operation skipped, a phase switched off) runs
# few or no cases; these floors are well under what the short profile runs.
# (Short profile: about 1,100 coverage cases, 250 of them positive; 6 fuzzing examples for each
# of the 14 operations; 30 to 45 stateful steps.)
FLOORS = {"examples": 14, "coverage": 1000, "fuzzing": 70, "stateful": 15}
POSITIVE_COVERAGE_FLOORS = FLOORS | {"coverage": 200}


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": value}


def api_key(value: str) -> dict[str, str]:
    return {"X-API-Key": value}


AUTHENTICATED: dict[str, Callable[[Credentials], dict[str, str]]] = {
    "admin": lambda c: bearer(c.admin),
    "manager": lambda c: bearer(c.manager),
    "rep": lambda c: bearer(c.rep),
    "partner-all-scopes": lambda c: api_key(c.partner_all_scopes),
    "partner-leads-read": lambda c: api_key(c.partner_one_scope),
}


# Failed checks that are a documented rule for the caller, not a bug (tests/fuzz/harness.py
# counts and prints them).
EVERYONE = (
    # The assignment names a rep who is not a member of the territory (the schema cannot know
    # who is): 400 VALIDATION_ERROR naming ``assigned_to``, like the stage table's rules.
    Acceptance(
        "positive_data_acceptance",
        "assignee not a member of the territory",
        uri="/api/v1/territories/assign",
        response=('"message":"the user is not a member of the territory"',),
    ),
    # A lead's status moves by its own table (docs/graphql.md, "Rules": a disqualified lead is
    # not converted): a rule about the lead's current status, which no request schema can say,
    # answered 400 VALIDATION_ERROR with current_status, requested_status, allowed_statuses,
    # like the stage table's. The gateway serves every run of the session, and the GraphQL runs
    # disqualify leads that the REST runs then try to convert.
    Acceptance(
        "positive_data_acceptance",
        "a lead status move its status table forbids",
        uri="/api/v1/leads/",
        response=('"requested_status":"',),
    ),
    # Free-form JSON (``metadata``, a product line's ``configuration``) is a plain object
    # schema, so that client generators take it; its limits (depth, keys in all, encoded size,
    # NUL characters: src/sales_graph/jsonlimits.py) are named in the field's description
    # (docs/rest.md): a value over them is schema-valid and refused with 400 naming the field.
    Acceptance(
        "positive_data_acceptance",
        "free-form JSON over the limits named in the description",
        response=FREE_FORM_LIMITS,
    ),
    # A keyset cursor (``after``) is opaque: any string the schema allows need not be one the
    # gateway minted, nor go with an offset; 400 naming ``after`` (docs/rest.md, "Paging deep").
    Acceptance(
        "positive_data_acceptance",
        "a cursor the gateway did not mint, or with an offset",
        response=CURSOR_RULES,
    ),
    # Besides the document's links, schemathesis' stateful phase infers its own from field
    # names (dependency analysis): an opportunity's ``lead_id`` to ``getLead``. ``lead_id`` is
    # null for an opportunity not converted from a lead, and schemathesis then requests
    # ``/api/v1/leads/None``: rightly a 400 (the document has no such link).
    Acceptance(
        "positive_data_acceptance",
        "inferred link followed a null lead_id",
        uri="/api/v1/leads/None",
        response=('"id":"must be a valid uuid"',),
    ),
)
# A lead a manager or a rep creates is routed by the territory rules (docs/graphql.md, Rules):
# a lead without a country goes to T2, whose member is r4, and neither m1 nor r1 sees r4's leads
# ("Who sees what"). So the 201 is followed by a 404 for its creator, which schemathesis'
# ``ensure_resource_availability`` reports; for these callers that is the visibility rule.
ROUTED_AWAY = Acceptance(
    "ensure_resource_availability",
    "created lead routed to a territory the caller does not see",
    message="`POST /api/v1/leads`",
)
# A partner is no user: an opportunity it creates has no default owner, so ``owner_id``, which
# the document leaves optional, is required of partners (400 naming ``owner_id``).
PARTNER_NAMES_OWNER = Acceptance(
    "positive_data_acceptance",
    "a partner must name the owner",
    uri="/api/v1/opportunities",
    response=('"message":"a partner names the owner"',),
)
# A webhook URL is a string in the document; whether its host resolves, and only to public
# addresses (and is https), is known when it is registered: 400 naming ``url``
# (docs/real-time.md, "Where an endpoint may point").
WEBHOOK_TARGET = Acceptance(
    "positive_data_acceptance",
    "a webhook URL the gateway will not call",
    uri="/api/v1/webhooks/endpoints",
    response=('"fields":{"url":',),
)
ACCEPTANCES = {
    "admin": EVERYONE,
    "manager": (*EVERYONE, ROUTED_AWAY),
    "rep": (*EVERYONE, ROUTED_AWAY),
    "partner-all-scopes": (*EVERYONE, PARTNER_NAMES_OWNER, WEBHOOK_TARGET),
    "partner-leads-read": (*EVERYONE, PARTNER_NAMES_OWNER),
}


@pytest.mark.parametrize("caller", list(AUTHENTICATED))
def test_rest_with_credentials(live_gateway: LiveGateway, caller: str) -> None:
    full = caller == "admin" or PROFILE.full_coverage_for_all
    target = Target(
        name=f"rest/{caller}/{live_gateway.database}",
        api="rest",
        headers=AUTHENTICATED[caller](live_gateway.credentials),
        full_coverage=full,
        floors=FLOORS if full else POSITIVE_COVERAGE_FLOORS,
        accepted=ACCEPTANCES[caller],
    )
    outcome = run(target, live_gateway.base_url)
    assert_clean(outcome, target)
    # ``ignored_auth`` drops the credentials on purpose, a few times per operation; many more
    # 401s would mean the caller's credentials stopped working and the run tested nothing.
    assert outcome.responses[401] <= outcome.total // 10, outcome.responses


UNAUTHENTICATED: dict[str, Callable[[Credentials], dict[str, str]]] = {
    # No Authorization, no X-API-Key.
    "anonymous": lambda c: {},
    # Authorization and X-API-Key generated by schemathesis from the security schemes.
    "generated-credentials": lambda c: {},
    # Signed with our key, but its subject is nobody.
    "unknown-user": lambda c: bearer(c.unknown_user),
}


@pytest.mark.parametrize("caller", list(UNAUTHENTICATED))
def test_rest_without_valid_credentials(live_gateway: LiveGateway, caller: str) -> None:
    full = caller == "anonymous" or PROFILE.full_coverage_for_all
    target = Target(
        name=f"rest/{caller}/{live_gateway.database}",
        api="rest",
        headers=UNAUTHENTICATED[caller](live_gateway.credentials),
        anonymous=True,
        with_security_parameters=caller == "generated-credentials",
        full_coverage=full,
        # Nothing is created without credentials: the stateful phase follows no link, but
        # still sends its first steps.
        floors=FLOORS if full else POSITIVE_COVERAGE_FLOORS,
    )
    outcome = run(target, live_gateway.base_url)
    print(f"credential headers sent: {dict(outcome.credentials)}")
    assert_clean(outcome, target)
    assert set(outcome.responses) <= {400, 401, 405}, outcome.responses
    if caller == "generated-credentials":
        # The made-up credentials were sent: each header alone, both, and sometimes none.
        sent = outcome.credentials
        assert all(sent[kind] > 0 for kind in ("Authorization", "X-API-Key", "both")), sent
