"""Prometheus metrics: what /metrics shows after real requests, who may scrape it, and the
label values it keeps bounded (docs/operations.md, "Metrics")."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from sales_graph.app import create_app
from sales_graph.settings import Environment, MetricsSettings, RateLimitSettings
from sales_graph.simulators import RunningSimulators
from sales_graph.telemetry import metrics
from sales_graph.web.metrics import metrics_port
from tests.federation import conftest as federation
from tests.federation.conftest import make_accounts, upstream_settings
from tests.gateways import app_client, gateway_settings, seeded_org
from tests.graphql.conftest import Gateway

Sample = tuple[str, dict[str, str], float]


def parse(text: str) -> list[Sample]:
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


# The simulators fixture of the federation tests, shared.
sims = federation.sims


def total(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        value
        for sample, have, value in samples
        if sample == name and all(have.get(k) == v for k, v in labels.items())
    )


def label_values(samples: list[Sample], name: str, label: str) -> set[str]:
    return {have[label] for sample, have, _ in samples if sample == name and label in have}


async def scrape(client: httpx.AsyncClient, **headers: str) -> list[Sample]:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


@pytest.fixture
async def gateway(
    fresh_postgres: str, tmp_path: Path, sims: RunningSimulators
) -> AsyncIterator[Gateway]:
    """The gateway on PostgreSQL with its connectors at the simulators; Customer Experience's
    health is stale at once and its breaker opens at the first failure."""
    org = await seeded_org(fresh_postgres)
    overrides = {
        "customer_experience": {
            "cache_ttls": {"health": 0},
            "breaker_failure_threshold": 1,
            "retry_max_attempts": 1,
            "breaker_reset_timeout_s": 600,
        }
    }
    settings = gateway_settings(tmp_path, fresh_postgres, **upstream_settings(sims, overrides))
    app = create_app(settings)
    async with app_client(app) as client:
        yield Gateway(client, app, org, "postgresql")


HEALTH = "query AccountHealth($id: ID!) { account(id: $id) { health { score stale } } }"


async def test_requests_operations_statements_and_upstream_calls_are_counted(
    gateway: Gateway, sims: RunningSimulators
) -> None:
    admin = gateway.org.admin
    (account_id,) = await make_accounts(gateway, 1)
    before = await scrape(gateway.client)

    lead_id = str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {gateway.token(admin)}"}
    missing = await gateway.client.get(f"/api/v1/leads/{lead_id}", headers=headers)
    assert missing.status_code == 404
    assert (await gateway.client.get("/no/such/path")).status_code == 404
    health = await gateway.data(admin, HEALTH, id=account_id)
    assert health["account"]["health"]["stale"] is False
    failed = await gateway.error(admin, "query Broken { lead(id: 42) { id } }")
    code = failed["extensions"]["code"]

    sims["customer_experience"].set_knobs(outage=True)
    stale = await gateway.data(admin, HEALTH, id=account_id)  # fails: the copy, breaker opens
    assert stale["account"]["health"]["stale"] is True
    await gateway.data(admin, HEALTH, id=account_id)  # fails fast: the breaker is open

    after = await scrape(gateway.client)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    requests = "sales_graph_http_requests_total"
    assert delta(requests, route="/api/v1/leads/{id}", method="GET", status="404") == 1
    assert delta(requests, route="unmatched", method="GET", status="404") == 1
    assert delta(requests, route="/graphql", method="POST", status="200") == 4
    assert delta("sales_graph_http_request_duration_seconds_count", route="/graphql") == 4
    assert not any(lead_id in str(labels) or "/no/such" in str(labels) for _, labels, _ in after)

    operations = "sales_graph_graphql_operations_total"
    assert delta(operations, operation="AccountHealth", type="query") == 3
    # A document that fails validation ran nothing: its name takes no label value.
    assert delta(operations, operation="Broken") == 0
    assert delta(operations, operation="other", type="query") == 1
    assert delta("sales_graph_graphql_errors_total", operation="other", code=code) == 1
    # The REST route ran its GraphQL operation internally: counted by its route only.
    assert delta(operations) == 4

    statements = "sales_graph_db_statement_duration_seconds_count"
    assert delta(statements, dialect="postgresql", kind="select") > 0

    system = "customer_experience"
    calls = "sales_graph_upstream_calls_total"
    assert delta(calls, system=system, outcome="ok") == 1
    assert delta(calls, system=system, outcome="unavailable") == 1
    assert delta(calls, system=system, outcome="breaker_open") == 1
    assert delta("sales_graph_upstream_call_duration_seconds_count", system=system) == 3
    lookups = "sales_graph_upstream_cache_lookups_total"
    assert delta(lookups, system=system, result="miss") == 3  # fresh for 0 s: never a hit
    assert delta("sales_graph_upstream_stale_served_total", system=system) == 2
    assert total(after, "sales_graph_upstream_breaker_state", system=system) == 2


async def test_a_rate_limit_refusal_is_counted_by_bucket(tmp_path: Path) -> None:
    settings = gateway_settings(
        tmp_path, rate_limit=RateLimitSettings(principal_limit=1, burst_limit=1)
    )
    async with app_client(create_app(settings)) as client:
        before = await scrape(client)
        statuses = [(await client.get("/openapi.json")).status_code for _ in range(2)]
        after = await scrape(client)
    assert statuses == [200, 429]
    name = "sales_graph_rate_limit_refusals_total"
    assert total(after, name, bucket="api") - total(before, name, bucket="api") == 1
    requests = "sales_graph_http_requests_total"
    refused = {"route": "/openapi.json", "status": "429"}
    assert total(after, requests, **refused) - total(before, requests, **refused) == 1


async def test_a_thousand_operation_names_keep_within_the_cap(tmp_path: Path) -> None:
    settings = gateway_settings(tmp_path, metrics=MetricsSettings(graphql_operation_names=20))
    name = "sales_graph_graphql_operations_total"
    async with app_client(create_app(settings)) as client:
        before = await scrape(client)
        for n in range(1000):
            query = f"query Op{n:04d} {{ __typename }}"
            response = await client.post("/graphql", json={"query": query})
            assert response.status_code == 200
        await client.post("/graphql", json={"query": "{ __typename }"})
        after = await scrape(client)
    new = label_values(after, name, "operation") - label_values(before, name, "operation")
    assert len(new - {"other", "anonymous"}) <= 20
    assert total(after, name, operation="other") - total(before, name, operation="other") >= 980
    assert total(after, name, operation="anonymous") - total(before, name, operation="anonymous")


def test_operation_names_are_valid_short_and_few() -> None:
    names = metrics.OperationNames(limit=2, max_length=10)
    assert names.label(None) == "anonymous"
    assert names.label("") == "anonymous"
    assert names.label("a-b") == "other"
    assert names.label("x" * 11) == "other"
    assert [names.label(n) for n in ("One", "Two", "Three", "One")] == [
        "One",
        "Two",
        "other",
        "One",
    ]


@dataclass
class Exposure:
    status: int
    body: dict[str, Any]


async def _metrics_on_main_listener(
    tmp_path: Path, headers: dict[str, str] | None = None, **fields: Any
) -> Exposure:
    settings = gateway_settings(tmp_path, **fields)
    async with app_client(create_app(settings)) as client:
        response = await client.get("/metrics", headers=headers or {})
    body = response.json() if response.headers["content-type"] == "application/json" else {}
    return Exposure(response.status_code, body)


async def test_who_may_scrape_the_main_listener(tmp_path: Path) -> None:
    token = MetricsSettings(token=SecretStr("s3cret"))
    assert (await _metrics_on_main_listener(tmp_path)).status == 200  # development: open

    refused = await _metrics_on_main_listener(tmp_path, metrics=token)
    assert (refused.status, refused.body["error"]["code"]) == (401, "UNAUTHORIZED")
    wrong = {"Authorization": "Bearer nope"}
    assert (await _metrics_on_main_listener(tmp_path, wrong, metrics=token)).status == 401
    right = {"Authorization": "Bearer s3cret"}
    assert (await _metrics_on_main_listener(tmp_path, right, metrics=token)).status == 200

    production = await _metrics_on_main_listener(tmp_path, env=Environment.PRODUCTION)
    assert (production.status, production.body["error"]["code"]) == (404, "NOT_FOUND")
    with_token = await _metrics_on_main_listener(
        tmp_path, right, env=Environment.PRODUCTION, metrics=token
    )
    assert with_token.status == 200

    own_port = await _metrics_on_main_listener(tmp_path, metrics=MetricsSettings(port=9999))
    assert own_port.status == 404
    off = await _metrics_on_main_listener(tmp_path, metrics=MetricsSettings(enabled=False))
    assert off.status == 404


async def test_a_metrics_port_serves_metrics_only_and_asks_for_its_token() -> None:
    settings = MetricsSettings(token=SecretStr("s3cret"))
    with metrics_port(settings, 0) as port:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            refused = await client.get("/metrics")
            other = await client.get("/graphql", headers={"Authorization": "Bearer s3cret"})
            posted = await client.post("/metrics", headers={"Authorization": "Bearer s3cret"})
            samples = await scrape(client, Authorization="Bearer s3cret")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "UNAUTHORIZED"
    assert other.status_code == 404
    assert posted.status_code == 405
    assert any(name.startswith("sales_graph_") for name, _, _ in samples)


def test_no_metric_takes_a_label_that_prometheus_owns() -> None:
    """``job`` and ``instance`` name the scrape target: Prometheus would rename ours to
    ``exported_job``, and an alert written against ``job`` would never match."""
    from prometheus_client.metrics import MetricWrapperBase

    from sales_graph.telemetry import metrics

    declared = {
        name: value._labelnames
        for name, value in vars(metrics).items()
        if isinstance(value, MetricWrapperBase)
    }
    assert len(declared) >= 15
    for name, labels in declared.items():
        assert not {"job", "instance"} & set(labels), name
        assert not any(label.startswith("__") for label in labels), name


async def test_names_of_operations_refused_before_running_take_no_place(tmp_path: Path) -> None:
    """A caller without credentials could otherwise fill the name slots with names of its own
    and leave every real operation counted as ``other``."""
    settings = gateway_settings(tmp_path, metrics=MetricsSettings(graphql_operation_names=5))
    name = "sales_graph_graphql_operations_total"
    async with app_client(create_app(settings)) as client:
        for n in range(20):
            query = f"query Unauthenticated{n} {{ me {{ name }} }}"
            response = await client.post("/graphql", json={"query": query})
            assert response.status_code == 401
        response = await client.post("/graphql", json={"query": "query Kept { __typename }"})
        assert response.status_code == 200
        after = await scrape(client)
    names = label_values(after, name, "operation")
    assert not any(n.startswith("Unauthenticated") for n in names), names
    assert "Kept" in names
    assert total(after, name, operation="other") >= 20


async def test_metrics_off_records_nothing(tmp_path: Path) -> None:
    """The benchmark's no-metrics gateway is metrics off, not metrics hidden."""
    settings = gateway_settings(tmp_path, metrics=MetricsSettings(enabled=False))
    try:
        async with app_client(create_app(settings)) as client:
            before = metrics.HTTP_REQUESTS.labels("/graphql", "POST", "200")._value.get()
            response = await client.post("/graphql", json={"query": "query Off { __typename }"})
            assert response.status_code == 200
            assert (await client.get("/metrics")).status_code == 404
            after = metrics.HTTP_REQUESTS.labels("/graphql", "POST", "200")._value.get()
        assert after == before
    finally:
        metrics.record(True)
