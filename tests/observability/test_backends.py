"""The real backends of tests/observability/backends.py answer: Prometheus scrapes a target a
test adds and serves its samples back; Jaeger stores spans sent by the OpenTelemetry SDK over
OTLP/HTTP, the gateway's own included, and serves them through its query API, attributes and
parents included."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from prometheus_client import CollectorRegistry, Counter, start_http_server

from sales_graph.app import create_app
from sales_graph.telemetry import tracing
from tests.gateways import app_client, gateway_settings, seeded_org
from tests.graphql.conftest import Gateway
from tests.observability.backends import Jaeger, Prometheus, Series, Trace, span_tags

CREATE_LEAD = """
mutation CreateLead($input: CreateLeadInput!) { createLead(input: $input) { id status } }
"""
LEAD_INPUT = {"email": "ada@example.com", "firstName": "Ada", "company": "Acme", "country": "US"}


def _value(series: list[Series]) -> float:
    return float(series[0]["value"][1])


async def test_prometheus_scrapes_an_added_target_and_serves_its_samples(
    prometheus: Prometheus,
) -> None:
    registry = CollectorRegistry()
    counter = Counter("sg_backend_smoke", "Counted by the backend smoke test", registry=registry)
    first = random.randint(1_000, 1_000_000)
    counter.inc(first)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    address = f"127.0.0.1:{server.server_port}"
    job = f"sg_smoke_{uuid.uuid4().hex[:12]}"
    try:
        prometheus.add_target(job, address)

        series = await prometheus.wait_for_series(f'sg_backend_smoke_total{{job="{job}"}}')
        assert len(series) == 1
        assert series[0]["metric"]["instance"] == address
        assert _value(series) == first
        up = await prometheus.wait_for_series(f'up{{job="{job}"}}')
        assert _value(up) == 1

        # Scraped again and again: a later increment shows up too.
        counter.inc(7)
        later = await prometheus.wait_for_series(
            f'sg_backend_smoke_total{{job="{job}"}}',
            predicate=lambda result: _value(result) == first + 7,
        )
        assert _value(later) == first + 7
    finally:
        prometheus.remove_target(job)
        server.shutdown()
        thread.join(timeout=5)


async def test_prometheus_stops_scraping_a_removed_target(prometheus: Prometheus) -> None:
    registry = CollectorRegistry()
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    job = f"sg_smoke_{uuid.uuid4().hex[:12]}"
    try:
        prometheus.add_target(job, f"127.0.0.1:{server.server_port}")
        await prometheus.wait_for_series(f'up{{job="{job}"}} == 1')
        assert job in await prometheus.active_jobs()

        prometheus.remove_target(job)
        assert not (prometheus.targets_dir / f"{job}.json").exists()
        # Gone from the targets, and its series go stale (an instant query no longer sees it).
        await prometheus.wait_for_series(
            f'absent(up{{job="{job}"}})', predicate=lambda result: _value(result) == 1
        )
        assert job not in await prometheus.active_jobs()
    finally:
        prometheus.remove_target(job)
        server.shutdown()
        thread.join(timeout=5)


async def test_jaeger_stores_spans_exported_over_otlp_http(jaeger: Jaeger) -> None:
    service = f"sg-smoke-{uuid.uuid4().hex[:12]}"
    marker = uuid.uuid4().hex
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=jaeger.otlp_traces_endpoint, timeout=5))
    )
    tracer = provider.get_tracer("tests.observability")
    try:
        with (
            tracer.start_as_current_span("smoke.parent", attributes={"sg.marker": marker}) as p,
            tracer.start_as_current_span("smoke.child", attributes={"sg.answer": 42}) as c,
        ):
            pass
    finally:
        provider.shutdown()  # exported (SimpleSpanProcessor: as each span ended)

    def complete(trace: Trace) -> bool:
        return len(trace["spans"]) == 2

    trace = await jaeger.wait_for_trace(service, complete)
    assert trace["traceID"] == format(p.get_span_context().trace_id, "032x")
    spans = {span["operationName"]: span for span in trace["spans"]}
    assert set(spans) == {"smoke.parent", "smoke.child"}
    parent, child = spans["smoke.parent"], spans["smoke.child"]
    assert span_tags(parent)["sg.marker"] == marker
    assert span_tags(child)["sg.answer"] == 42
    assert child["spanID"] == format(c.get_span_context().span_id, "016x")
    assert child["references"] == [
        {"refType": "CHILD_OF", "traceID": trace["traceID"], "spanID": parent["spanID"]}
    ]
    assert trace["processes"][parent["processID"]]["serviceName"] == service
    assert service in await jaeger.services()


async def test_the_gateways_traces_reach_jaeger_through_the_environment_exporter(
    jaeger: Jaeger, fresh_sqlite: str, tmp_path: Path
) -> None:
    # The exporter OTEL_EXPORTER_OTLP_ENDPOINT configures in production, batching as it does there.
    service = f"sales-graph-smoke-{uuid.uuid4().hex[:12]}"
    exporters = tracing.exporters_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_url})
    assert tracing.configure(service, processors=[BatchSpanProcessor(e) for e in exporters])
    try:
        org = await seeded_org(fresh_sqlite)
        app = create_app(gateway_settings(tmp_path, fresh_sqlite))
        async with app_client(app) as client:
            gateway = Gateway(client, app, org, "sqlite")
            data = await gateway.data(org.admin, CREATE_LEAD, input=LEAD_INPUT)
            assert data["createLead"]["status"] == "NEW"
    finally:
        tracing.shutdown()  # flushes the batch

    def has_the_mutation(trace: Trace) -> bool:
        return any(span["operationName"] == "mutation CreateLead" for span in trace["spans"])

    trace = await jaeger.wait_for_trace(service, has_the_mutation)
    spans = {span["spanID"]: span for span in trace["spans"]}
    (operation,) = [s for s in spans.values() if s["operationName"] == "mutation CreateLead"]
    assert span_tags(operation)["graphql.operation.name"] == "CreateLead"
    (parent_ref,) = operation["references"]
    server = spans[parent_ref["spanID"]]
    assert server["operationName"] == "POST /graphql"
    assert span_tags(server)["http.route"] == "/graphql"
    inserts = [s for s in spans.values() if s["operationName"] == "INSERT"]
    assert inserts
    assert all(span_tags(s)["db.query.text"].startswith("INSERT INTO") for s in inserts)
    assert {trace["processes"][s["processID"]]["serviceName"] for s in spans.values()} == {service}
