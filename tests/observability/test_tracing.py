"""Traces (docs/operations.md, "Traces"): a request's spans, and its trace carried through the
outbox row and the Kafka headers into the consumer, against the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlmodel import select

from sales_graph.app import create_app
from sales_graph.db.models import OutboxEvent
from sales_graph.logs import get_logger
from sales_graph.settings import TracingSettings
from sales_graph.telemetry import tracing
from sales_graph.worker.bus import Bus
from sales_graph.worker.consumer import Consumer
from tests.events.conftest import EventGateway, event_settings, read_topic, until
from tests.gateways import app_client, gateway_settings, seeded_org
from tests.graphql.conftest import Gateway
from tests.kafka_topics import unique_topics
from tests.observability.tracing_fixtures import (
    ancestors,
    named,
    one,
    parent_id,
    span_id,
    trace_id,
    traceparent_of,
)

CREATE_LEAD = """
mutation CreateLead($input: CreateLeadInput!) { createLead(input: $input) { id status } }
"""
LEAD_INPUT = {"email": "ada@example.com", "firstName": "Ada", "company": "Acme", "country": "US"}


async def _outbox(gateway: Gateway) -> list[OutboxEvent]:
    async with gateway.runtime.db.session() as session:
        return list((await session.exec(select(OutboxEvent).order_by(OutboxEvent.id))).all())


async def _create_lead(gateway: Gateway) -> str:
    data = await gateway.data(gateway.org.admin, CREATE_LEAD, input=LEAD_INPUT)
    lead_id: str = data["createLead"]["id"]
    return lead_id


@pytest.mark.postgres
@pytest.mark.kafka
async def test_a_mutation_is_traced_from_the_request_to_the_consumer(
    spans: InMemorySpanExporter, fresh_postgres: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    org = await seeded_org(fresh_postgres)
    topics = unique_topics()
    app = create_app(event_settings(fresh_postgres, tmp_path, kafka_bootstrap, topics))
    async with app_client(app) as client:
        gateway = EventGateway(client, app, org, "postgresql", kafka_bootstrap, topics)
        try:
            await _traced_flow(gateway, spans)
        finally:
            for events in gateway._started:
                await events.stop()


async def _traced_flow(gateway: EventGateway, spans: InMemorySpanExporter) -> None:
    kafka_bootstrap, topics = gateway.bootstrap, gateway.topics
    spans.clear()
    await _create_lead(gateway)

    # HTTP server span -> GraphQL operation span -> SQL spans, one trace.
    finished = spans.get_finished_spans()
    server = one(spans, "POST /graphql")
    assert server.kind is SpanKind.SERVER
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/graphql"
    operation = one(spans, "mutation CreateLead")
    assert parent_id(operation) == span_id(server)
    assert operation.attributes == {
        "graphql.operation.type": "mutation",
        "graphql.operation.name": "CreateLead",
    }
    inserts = [s for s in named(spans, "INSERT") if trace_id(s) == trace_id(server)]
    assert inserts, sorted({s.name for s in finished})
    for insert in inserts:
        assert insert.kind is SpanKind.CLIENT
        assert operation in ancestors(insert, finished)
        assert insert.attributes is not None
        assert insert.attributes["db.system.name"] == "postgresql"
        assert str(insert.attributes["db.query.text"]).startswith("INSERT INTO")
    outbox_insert = [
        s for s in inserts if "INSERT INTO outbox" in str((s.attributes or {})["db.query.text"])
    ]
    assert outbox_insert

    # The outbox row holds the trace context of the span that recorded it.
    rows = await _outbox(gateway)
    created = next(r for r in rows if r.event_type == "lead.created")
    assert created.traceparent is not None
    _version, row_trace, row_parent, _flags = created.traceparent.split("-")
    assert int(row_trace, 16) == trace_id(server)
    recording = next(s for s in finished if span_id(s) == int(row_parent, 16))
    assert operation in [recording, *ancestors(recording, finished)]

    # The relay's produce span continues the trace; the header carries it on.
    await gateway.start_events(consumers=False)
    messages = await read_topic(
        kafka_bootstrap,
        topics.leads,
        count=1,
        where=lambda m: m.headers["event_id"] == str(created.event_id),
    )
    assert len(messages) == 1
    produce = await until(
        lambda: _async(
            [
                s
                for s in named(spans, f"send {topics.leads}")
                if (s.attributes or {}).get("messaging.message.id") == str(created.event_id)
            ]
        ),
        deadline_s=10,
    )
    assert len(produce) == 1
    send = produce[0]
    assert send.kind is SpanKind.PRODUCER
    assert trace_id(send) == trace_id(server)
    assert parent_id(send) == int(row_parent, 16)
    assert send.attributes is not None
    assert send.attributes["messaging.system"] == "kafka"
    assert send.attributes["messaging.operation.type"] == "send"
    assert send.attributes["messaging.destination.name"] == topics.leads
    assert send.attributes["messaging.message.id"] == str(created.event_id)
    assert send.attributes["messaging.destination.partition.id"] == str(messages[0].partition)
    assert send.attributes["messaging.kafka.offset"] == messages[0].offset
    assert messages[0].headers["traceparent"] == traceparent_of(send)

    # A consumer handling it continues the same trace, and its log lines name it.
    seen: list[trace.SpanContext] = []

    async def handler(message: dict[str, Any]) -> None:
        if message.get("event_id") == str(created.event_id):
            seen.append(trace.get_current_span().get_span_context())

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    consumer = Consumer(
        "trace-test",
        topics.leads,
        handler,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"trace-test-{uuid.uuid4().hex[:8]}",
        producer=producer,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await until(lambda: _async(seen), deadline_s=30)
    finally:
        stop.set()
        await task
        await producer.stop()
    process = [
        s
        for s in named(spans, f"process {topics.leads}")
        if (s.attributes or {}).get("messaging.message.id") == str(created.event_id)
    ]
    assert len(process) == 1
    assert process[0].kind is SpanKind.CONSUMER
    assert trace_id(process[0]) == trace_id(server)
    assert parent_id(process[0]) == span_id(send)
    assert seen[0].span_id == span_id(process[0])
    assert process[0].attributes is not None
    assert process[0].attributes["messaging.kafka.offset"] == messages[0].offset


async def _async(value: Any) -> Any:
    return value


async def test_log_lines_of_a_request_carry_its_trace_and_span_ids(
    spans: InMemorySpanExporter,
    fresh_sqlite: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = await seeded_org(fresh_sqlite)
    app = create_app(gateway_settings(tmp_path, fresh_sqlite, log_level="INFO"))
    async with app_client(app) as client:
        gateway = Gateway(client, app, org, "sqlite")
        spans.clear()
        written = io.StringIO()
        monkeypatch.setattr(sys, "stderr", written)
        await _create_lead(gateway)
        get_logger("test").info("outside.any.span")
        monkeypatch.undo()
    lines = [json.loads(line) for line in written.getvalue().splitlines() if line.startswith("{")]
    server = one(spans, "POST /graphql")
    access = next(line for line in lines if line["event"] == "http.request")
    assert access["trace_id"] == f"{trace_id(server):032x}"
    assert access["span_id"] == f"{span_id(server):016x}"
    outside = next(line for line in lines if line["event"] == "outside.any.span")
    assert "trace_id" not in outside
    assert "span_id" not in outside


async def test_routes_name_their_spans_by_template_never_by_id(
    spans: InMemorySpanExporter, fresh_sqlite: str, tmp_path: Path
) -> None:
    org = await seeded_org(fresh_sqlite)
    app = create_app(gateway_settings(tmp_path, fresh_sqlite))
    async with app_client(app) as client:
        gateway = Gateway(client, app, org, "sqlite")
        lead_id = await _create_lead(gateway)
        spans.clear()
        headers = {"Authorization": f"Bearer {gateway.token(org.admin)}"}
        assert (await client.get(f"/api/v1/leads/{lead_id}", headers=headers)).status_code == 200
        assert (await client.get("/no/such/path")).status_code == 404
        assert (await client.get("/healthz")).status_code == 200
    names = [s.name for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert names == ["GET /api/v1/leads/{id}", "GET"]
    rest = one(spans, "GET /api/v1/leads/{id}")
    # The REST route runs its GraphQL operation inside the request's span.
    # (its document is anonymous: the span is named by the operation type alone).
    graphql = one(spans, "query")
    assert parent_id(graphql) == span_id(rest)
    assert all(lead_id not in s.name for s in spans.get_finished_spans())


async def test_no_server_span_holds_a_query_string_or_a_raw_path(
    spans: InMemorySpanExporter, fresh_sqlite: str, tmp_path: Path
) -> None:
    """A GET /graphql carries its whole document and variables in the query string, and REST
    filters carry emails: none of it, nor an id in a path, reaches a span's attributes."""
    org = await seeded_org(fresh_sqlite)
    app = create_app(gateway_settings(tmp_path, fresh_sqlite))
    secret, email = "hunter2-password", "victim@pii.example"
    async with app_client(app) as client:
        gateway = Gateway(client, app, org, "sqlite")
        lead_id = await _create_lead(gateway)
        spans.clear()
        headers = {"Authorization": f"Bearer {gateway.token(org.admin)}"}
        query = f'query Q {{ leads(search: "{email}") {{ totalCount }} }}'
        params = {"query": query, "variables": json.dumps({"secretVar": secret})}
        assert (await client.get("/graphql", params=params, headers=headers)).status_code == 200
        found = await client.get(f"/api/v1/leads/{lead_id}?email={email}", headers=headers)
        assert found.status_code == 400  # no such parameter: refused, its span made all the same
    server = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert len(server) == 2
    for span in server:
        text = json.dumps(dict(span.attributes or {}))
        for leaked in (secret, email, lead_id, "victim", "search"):
            assert leaked not in text, (span.name, text)
    assert dict(server[1].attributes or {}).get("http.target") == "/api/v1/leads/{id}"


async def test_resolver_spans_only_when_asked(
    spans: InMemorySpanExporter, fresh_sqlite: str, tmp_path: Path
) -> None:
    org = await seeded_org(fresh_sqlite)
    query = "query Leads { leads(first: 5) { totalCount } }"
    found: dict[bool, list[str]] = {}
    for resolvers in (False, True):
        settings = gateway_settings(
            tmp_path, fresh_sqlite, tracing=TracingSettings(resolvers=resolvers)
        )
        app = create_app(settings)
        async with app_client(app) as client:
            gateway = Gateway(client, app, org, "sqlite")
            spans.clear()
            await gateway.data(org.admin, query)
            operation = one(spans, "query Leads")
            found[resolvers] = [
                s.name for s in spans.get_finished_spans() if parent_id(s) == span_id(operation)
            ]
    assert "Query.leads" not in found[False]
    assert "Query.leads" in found[True]
    resolver = one(spans, "Query.leads")
    assert resolver.attributes is not None
    assert resolver.attributes["graphql.field.path"] == "leads"


async def test_an_operation_with_errors_is_a_failed_span(
    spans: InMemorySpanExporter, fresh_sqlite: str, tmp_path: Path
) -> None:
    org = await seeded_org(fresh_sqlite)
    app = create_app(gateway_settings(tmp_path, fresh_sqlite))
    async with app_client(app) as client:
        gateway = Gateway(client, app, org, "sqlite")
        spans.clear()
        await gateway.error(org.admin, "query Bad { noSuchField }")
        await gateway.error(org.admin, "query {")
    bad = one(spans, "query Bad")
    assert bad.status.status_code is StatusCode.ERROR
    unparsed = one(spans, "graphql")
    assert unparsed.status.status_code is StatusCode.ERROR


async def test_the_in_process_bus_continues_the_trace_of_the_event() -> None:
    from tests.observability.tracing_fixtures import in_memory_tracing

    with in_memory_tracing() as exporter:
        seen: list[trace.SpanContext] = []

        async def handler(_envelope: dict[str, Any]) -> None:
            seen.append(trace.get_current_span().get_span_context())

        bus = Bus()
        bus.subscribe("leads", handler)
        bus.start()
        try:
            with tracing.span("request") as request:
                assert request is not None
                traceparent = tracing.current_traceparent()
            bus.put("leads", "k", {"event_id": "e-1"}, traceparent=traceparent)
            bus.put("leads", "k", {"event_id": "e-2"})
            await bus.drain()
        finally:
            await bus.stop()
        first, second = named(exporter, "process leads")
        recorded = one(exporter, "request")
        assert trace_id(first) == trace_id(recorded)
        assert parent_id(first) == span_id(recorded)
        assert first.attributes is not None
        assert first.attributes["messaging.message.id"] == "e-1"
        assert parent_id(second) is None  # no context: a trace of its own
        assert [s.span_id for s in seen] == [span_id(first), span_id(second)]


async def test_with_otel_unset_nothing_is_installed_and_the_outbox_holds_no_context(
    fresh_sqlite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_TRACES_EXPORTER",
    ):
        monkeypatch.delenv(name, raising=False)
    org = await seeded_org(fresh_sqlite)
    app = create_app(gateway_settings(tmp_path, fresh_sqlite))
    assert not tracing.enabled()
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert all("OpenTelemetry" not in m.cls.__name__ for m in app.user_middleware)
    async with app_client(app) as client:
        gateway = Gateway(client, app, org, "sqlite")
        await _create_lead(gateway)
        rows = await _outbox(gateway)
    assert rows
    assert all(row.traceparent is None for row in rows)
    assert tracing.sending("t", traceparent=None).headers() == []
    # An untraced relay passes a stored context on as it is.
    stored = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert tracing.sending("t", traceparent=stored).headers() == [("traceparent", stored.encode())]


def test_the_environment_decides_whether_and_where_spans_are_exported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    assert tracing.exporters_from_env({}) == []
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    (exporter,) = tracing.exporters_from_env(endpoint)
    assert isinstance(exporter, OTLPSpanExporter)
    assert tracing.exporters_from_env({**endpoint, "OTEL_SDK_DISABLED": "true"}) == []
    assert tracing.exporters_from_env({**endpoint, "OTEL_TRACES_EXPORTER": "none"}) == []
    (console,) = tracing.exporters_from_env({"OTEL_TRACES_EXPORTER": "console"})
    assert type(console).__name__ == "ConsoleSpanExporter"
    with pytest.raises(ValueError, match="zipkin"):
        tracing.exporters_from_env({"OTEL_TRACES_EXPORTER": "zipkin"})
    with pytest.raises(ValueError, match="http/json"):
        tracing.exporters_from_env({**endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})

    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    assert tracing.service_resource("sales-graph").attributes["service.name"] == "sales-graph"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "gateway-eu")
    assert tracing.service_resource("sales-graph").attributes["service.name"] == "gateway-eu"
