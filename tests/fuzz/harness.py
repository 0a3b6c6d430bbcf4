"""Runs schemathesis' engine against a live gateway and keeps what the suite asserts and prints.

One ``Target`` is one run: an API (``/openapi.json`` or ``/graphql``), one caller (its headers,
or none) and what that caller may be answered. ``run`` returns an ``Outcome``: the cases per
phase, the failed checks grouped by kind, the engine's own errors, and every server error seen
on the wire (a 5xx, or a GraphQL error with ``extensions.code`` INTERNAL_ERROR), each with its
exact request and response, whatever check did or did not notice it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.engine import Status, from_schema
from schemathesis.engine import events as engine_events
from schemathesis.engine.recorder import ScenarioRecorder

from tests.fuzz.data import graphql_scalars
from tests.fuzz.profile import PROFILE, REPORT_FILE, Profile
from tests.rest.test_schemathesis import ACCEPTED, STAGE_CHANGE

REST_PHASES = ("examples", "coverage", "fuzzing", "stateful")
# GraphQL has no coverage phase in schemathesis (and our schema has no examples): its engine
# runs fuzzing and stateful (mutations that return an object with an ``id`` feed the queries
# and mutations that take one).
GRAPHQL_PHASES = ("fuzzing", "stateful")

# What a schema-valid request may be answered, and the stage change's 400, are those of
# tests/rest/test_schemathesis.py (importing it also registers its check that a refused stage
# change names a rule of the stage table). Schema-valid requests may still meet the server's
# state or the caller's rights: 404 (an id that does not exist, or one the caller may not see:
# docs/graphql.md "Who sees what"), 409 (a conflict), 412 (an If-Match version that is not the
# current one), 422 (an Idempotency-Key already used with another body). 401 is what
# ``ignored_auth`` provokes on purpose. 403: a rep or a partner key asking for what their role
# or scopes do not allow (a rep creating a forecast, a ``leads:read`` key creating a lead).
# "5xx" is listed so that ``positive_data_acceptance`` does not report a 5xx a second time:
# ``not_a_server_error`` and the wire count below do.

INTERNAL_ERROR = "INTERNAL_ERROR"
# uvicorn's own answer to bytes its HTTP parser refuses: the request never reached the gateway.
UVICORN_INVALID_REQUEST = "Invalid HTTP request received."


# --------------------------------------------------------------------------- custom checks
#
# schemathesis' checks are global: registered once, they run in every run of the process
# (tests/rest/test_schemathesis.py's too). Ours only act while ``run`` executes a target that
# asks for them.

_ACTIVE: set[str] = set()


def _json(response: schemathesis.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def internal_errors(body: Any) -> list[dict[str, Any]]:
    """The GraphQL errors of a response body whose code is INTERNAL_ERROR."""
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return []
    found = []
    for error in body["errors"]:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        if isinstance(extensions, dict) and extensions.get("code") == INTERNAL_ERROR:
            found.append(error)
    return found


@schemathesis.check
def fuzz_refused_without_credentials(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    """Without valid credentials every REST answer is 401, the envelope, WWW-Authenticate."""
    if "anonymous" not in _ACTIVE:
        return None
    if response.status_code == 400 and response.text.strip() == UVICORN_INVALID_REQUEST:
        # uvicorn's HTTP parser refused the bytes before any application code ran.
        return None
    if response.status_code == 405 and case.method.upper() != case.operation.method.upper():
        # A method the document does not define for the path (the coverage phase's
        # ``unsupported_method`` cases: TRACE, DELETE, ...) is not an operation: it is routed
        # to 405 with ``Allow`` before the REST engine asks for a caller. It reveals nothing
        # /openapi.json does not publish. (With credentials present but bad, the
        # authentication middleware answers 401 first.) Still the envelope, and ``Allow``.
        body = _json(response)
        assert isinstance(body, dict), "405 without a JSON body"
        assert body.get("error", {}).get("code") == "METHOD_NOT_ALLOWED", body
        assert response.headers.get("allow"), "405 without Allow"
        return None
    assert response.status_code == 401, (
        f"expected 401 without valid credentials, got {response.status_code}"
    )
    assert response.headers.get("www-authenticate"), "401 without WWW-Authenticate"
    body = _json(response)
    assert isinstance(body, dict), "401 without a JSON body"
    error = body.get("error")
    assert isinstance(error, dict), f"401 without the error envelope: {body!r}"[:300]
    assert error.get("code") == "UNAUTHORIZED", f"401 with code {error.get('code')!r}"
    for member in ("message", "details", "request_id", "timestamp"):
        assert member in error, f"401 envelope without {member!r}"
    return None


@schemathesis.check
def fuzz_no_internal_error(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    """No 5xx, and no GraphQL error masked as INTERNAL_ERROR (a 500 in disguise)."""
    if "graphql" not in _ACTIVE:
        return None
    assert response.status_code < 500, f"server error: HTTP {response.status_code}"
    masked = internal_errors(_json(response))
    assert not masked, f"INTERNAL_ERROR: {json.dumps(masked)[:500]}"
    return None


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Acceptance:
    """A failed check that is a documented rule, not a bug: the check's name, and texts that
    the failure's message and the request's URL must contain, and the response's body one of."""

    check: str
    reason: str
    message: str = ""
    uri: str = ""
    response: tuple[str, ...] = ("",)

    def matches(self, check: str, message: str, uri: str, response: str) -> bool:
        return (
            check == self.check
            and self.message in message
            and self.uri in uri
            and any(text in response for text in self.response)
        )


@dataclass(frozen=True)
class Target:
    """One run of the engine: which API, as whom, answered how."""

    name: str
    api: str  # "rest" or "graphql"
    headers: dict[str, str] = field(default_factory=dict)
    # REST without valid credentials: every answer must be 401 (our custom check).
    anonymous: bool = False
    # Let schemathesis generate the security parameters (Authorization, X-API-Key): garbage.
    with_security_parameters: bool = False
    # Keep the coverage phase's negative cases (see Profile.full_coverage_for_all).
    full_coverage: bool = True
    # Minimum number of cases per phase below which the harness is considered broken.
    floors: dict[str, int] = field(default_factory=dict)
    # Failed checks that are the documented behaviour for this caller: counted and printed,
    # not failed. Each ``Acceptance`` says why.
    accepted: tuple[Acceptance, ...] = ()

    @property
    def group(self) -> str:
        if self.api == "graphql":
            return "GraphQL"
        return "REST without valid credentials" if self.anonymous else "REST with credentials"


@dataclass
class ServerError:
    target: str
    phase: str
    operation: str
    method: str
    uri: str
    headers: dict[str, str]
    body: str
    status: int | None
    response: str

    def format(self) -> str:
        headers = "\n".join(f"    {name}: {value}" for name, value in self.headers.items())
        return (
            f"[{self.target} / {self.phase}] {self.operation}\n"
            f"  {self.method} {self.uri}\n{headers}\n"
            f"  body: {self.body[:2000]}\n"
            f"  -> {self.status}: {self.response[:1000]}"
        )


@dataclass
class Outcome:
    target: str
    # "REST with credentials", "REST without valid credentials" or "GraphQL".
    group: str
    cases: Counter[str] = field(default_factory=Counter)
    responses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    server_errors: list[ServerError] = field(default_factory=list)
    links: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    # Requests by the credential headers they carried ("Authorization", "X-API-Key", "both",
    # "none"): proof that a run without valid credentials did send made-up ones.
    credentials: Counter[str] = field(default_factory=Counter)
    # GraphQL: responses with data and no error, and the codes of the errors in the others.
    graphql_codes: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def summary(self) -> str:
        phases = ", ".join(f"{phase} {count}" for phase, count in sorted(self.cases.items()))
        statuses = " ".join(f"{code}:{n}" for code, n in sorted(self.responses.items()))
        text = (
            f"{self.target}: {self.total} cases ({phases}) in {self.elapsed_s:.1f} s; "
            f"server errors {len(self.server_errors)}; failed check kinds {len(self.failures)}; "
            f"statuses {statuses}"
        )
        if self.graphql_codes:
            codes = " ".join(f"{code}:{n}" for code, n in self.graphql_codes.most_common())
            text += f"; graphql {codes}"
        if self.accepted:
            text += "; accepted " + ", ".join(f"{n} x {why}" for why, n in self.accepted.items())
        return text


# Every outcome of the session, for the terminal summary (tests/fuzz/conftest.py).
OUTCOMES: list[Outcome] = []


def _decode(body: bytes | None) -> str:
    if body is None:
        return ""
    return body.decode("utf-8", errors="backslashreplace")


def _wire_server_errors(
    target: Target, phase: str, recorder: ScenarioRecorder
) -> Iterator[ServerError]:
    for interaction in recorder.interactions.values():
        response = interaction.response
        if response is None:
            continue
        masked = internal_errors(_json(response)) if target.api == "graphql" else []
        if response.status_code < 500 and not masked:
            continue
        request = interaction.request
        yield ServerError(
            target=target.name,
            phase=phase,
            operation=recorder.label,
            method=request.method,
            uri=request.uri,
            headers={name: ", ".join(values) for name, values in request.headers.items()},
            body=_decode(request.body),
            status=response.status_code,
            response=response.text,
        )


def _credential_kind(headers: dict[str, list[str]]) -> str:
    names = {name.lower() for name in headers}
    kinds = [name for name in ("Authorization", "X-API-Key") if name.lower() in names]
    return {0: "none", 1: kinds[0] if kinds else "none", 2: "both"}[len(kinds)]


def _graphql_codes(recorder: ScenarioRecorder) -> Iterator[str]:
    for interaction in recorder.interactions.values():
        if interaction.response is None:
            continue
        body = _json(interaction.response)
        if not isinstance(body, dict):
            yield "not-json"
        elif isinstance(body.get("error"), dict):
            yield f"envelope {body['error'].get('code')}"
        elif not body.get("errors"):
            yield "data"
        else:
            error = body["errors"][0]
            extensions = error.get("extensions") if isinstance(error, dict) else None
            code = extensions.get("code") if isinstance(extensions, dict) else None
            yield str(code or "no-code")


def _failures(
    event: engine_events.ScenarioFinished, target: Target, outcome: Outcome
) -> Iterator[tuple[str, str]]:
    """(kind, an example) per failed check: the kind is the operation, check and status."""
    recorder = event.recorder
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status != Status.FAILURE or check.failure_info is None:
                continue
            failure = check.failure_info.failure
            interaction = recorder.interactions.get(case_id)
            response = interaction.response if interaction is not None else None
            uri = interaction.request.uri if interaction is not None else ""
            why = next(
                (
                    acceptance.reason
                    for acceptance in target.accepted
                    if acceptance.matches(
                        check.name,
                        f"{failure.title}\n{failure.message}",
                        uri,
                        response.text if response is not None else "",
                    )
                ),
                None,
            )
            if why is not None:
                outcome.accepted[why] += 1
                continue
            status = response.status_code if response is not None else None
            kind = f"{recorder.label}: {check.name} {failure.title} [{status}]"
            answer = response.text[:600] if response is not None else ""
            yield (
                kind,
                (
                    f"{event.phase.value} {kind}\n  {failure.message}\n  {answer}\n"
                    f"  {check.failure_info.code_sample}"
                ),
            )


def _config(target: Target, base_url: str, profile: Profile) -> schemathesis.Config:
    phases = REST_PHASES if target.api == "rest" else GRAPHQL_PHASES
    phase_config: dict[str, Any] = {phase: {"enabled": True} for phase in phases}
    phase_config["fuzzing"]["generation"] = {"max-examples": profile.graphql_max_examples}
    phase_config["stateful"].update(
        {
            "max-steps": profile.stateful_max_steps,
            "generation": {"max-examples": profile.stateful_max_examples},
        }
    )
    checks: dict[str, Any] = {"enabled": True}
    operations: list[dict[str, Any]] = []
    if target.api == "rest":
        phase_config["fuzzing"]["generation"] = {"max-examples": profile.rest_max_examples}
        if not target.full_coverage:
            phase_config["coverage"]["generation"] = {"mode": "positive"}
        if target.anonymous:
            # Nothing is accepted without credentials: a schema-valid request is a 401 too.
            checks["positive_data_acceptance"] = {"expected-statuses": ["401"]}
        else:
            checks["positive_data_acceptance"] = {"expected-statuses": ACCEPTED}
            operations.append(
                {
                    "include-operation-id": STAGE_CHANGE,
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}
                    },
                }
            )
    else:
        # For GraphQL, schemathesis' own ``not_a_server_error`` calls any error with a ``path``
        # a server error unless it carries an Apollo or graphql-java code: our NOT_FOUND,
        # FORBIDDEN and VALIDATION_ERROR resolver errors would all count. It is replaced by
        # ``fuzz_no_internal_error``: no 5xx and no INTERNAL_ERROR, what the issue asks.
        checks["not_a_server_error"] = {"enabled": False}
        # "Positive" GraphQL documents are valid for GraphQL's types only: an ``ID`` that is no
        # UUID, a ``String`` period that is no period, a page of 0 rows. The services refuse
        # them with VALIDATION_ERROR (before execution for the limits), by design, and the
        # scalar strategies of tests/fuzz/data.py send such values on purpose.
        checks["positive_data_acceptance"] = {"enabled": False}
        # A REST check (it reads the OpenAPI operation's ``operationId``): not for GraphQL.
        checks["stage_rules_are_the_only_refusal"] = {"enabled": False}
    return schemathesis.Config.from_dict(
        {
            "seed": profile.seed,
            "headers": target.headers,
            "workers": 1,
            "continue-on-failure": True,
            "generation": {
                "mode": "all",
                "database": "none",
                "with-security-parameters": target.with_security_parameters,
            },
            "phases": phase_config,
            "checks": checks,
            **({"operations": operations} if operations else {}),
        }
    )


def run(
    target: Target,
    base_url: str,
    profile: Profile = PROFILE,
    *,
    scalars: dict[str, st.SearchStrategy[Any]] | None = None,
) -> Outcome:
    """Runs the target's engine; ``scalars`` are GraphQL scalar strategies for this run only."""
    config = _config(target, base_url, profile)
    schema: schemathesis.BaseSchema
    if target.api == "rest":
        # The document and the introspection are public: loaded without the target's headers
        # (bad credentials are a 401 everywhere, /openapi.json included).
        schema = schemathesis.openapi.from_url(
            f"{base_url}/openapi.json", config=config, headers={}
        )
    else:
        schema = schemathesis.graphql.from_url(f"{base_url}/graphql", config=config, headers={})
    outcome = Outcome(target.name, target.group)
    active = {"anonymous"} if target.anonymous else set()
    if target.api == "graphql":
        active.add("graphql")
    _ACTIVE.update(active)
    started = time.monotonic()
    try:
        with graphql_scalars(scalars or {}):
            for event in from_schema(schema).execute():
                _record(event, target, outcome)
    finally:
        _ACTIVE.difference_update(active)
        outcome.elapsed_s = time.monotonic() - started
        OUTCOMES.append(outcome)
        if REPORT_FILE:
            with open(REPORT_FILE, "a", encoding="utf-8") as file:
                file.write(f"{'=' * 100}\n{report(outcome)}\n\n")
    return outcome


def _record(event: engine_events.EngineEvent, target: Target, outcome: Outcome) -> None:
    if isinstance(event, engine_events.ScenarioFinished):
        phase = event.phase.value
        outcome.cases[phase] += len(event.recorder.cases)
        for interaction in event.recorder.interactions.values():
            if interaction.response is not None:
                outcome.responses[interaction.response.status_code] += 1
            outcome.credentials[_credential_kind(interaction.request.headers)] += 1
        outcome.links.update(
            node.transition.id
            for node in event.recorder.cases.values()
            if node.transition is not None
        )
        outcome.server_errors.extend(_wire_server_errors(target, phase, event.recorder))
        if target.api == "graphql":
            outcome.graphql_codes.update(_graphql_codes(event.recorder))
        for kind, example in _failures(event, target, outcome):
            outcome.failures.setdefault(kind, []).append(example)
    elif isinstance(event, engine_events.NonFatalError):
        outcome.errors.append(f"{event.label}: {event.info.format()}")
    elif isinstance(event, engine_events.FatalError):
        outcome.errors.append(repr(event.exception))


def report(outcome: Outcome) -> str:
    """Everything a failing run needs to be understood: counts, server errors, failures."""
    parts = [outcome.summary()]
    if outcome.server_errors:
        parts.append(f"{len(outcome.server_errors)} server error(s):")
        parts.extend(error.format() for error in outcome.server_errors[:20])
    if outcome.errors:
        parts.append("engine errors:")
        parts.extend(outcome.errors[:20])
    if outcome.failures:
        parts.append(f"{len(outcome.failures)} kind(s) of failed check:")
        parts.extend(
            f"{len(examples)} x {kind}\n{examples[0]}"
            for kind, examples in sorted(outcome.failures.items())
        )
    return "\n\n".join(parts)


def assert_clean(outcome: Outcome, target: Target) -> None:
    """No server error, no failed check, no engine error, and enough cases in every phase."""
    print(report(outcome))
    low = {
        phase: (outcome.cases[phase], floor)
        for phase, floor in target.floors.items()
        if outcome.cases[phase] < floor
    }
    assert not low, f"too few cases (got, floor) per phase, the harness is broken: {low}"
    assert not outcome.server_errors, report(outcome)
    assert not outcome.errors, report(outcome)
    assert not outcome.failures, report(outcome)
