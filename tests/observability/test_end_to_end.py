"""The gateway and the worker as an operator runs them (``sales-graph serve --workers 2`` and
``sales-graph worker``, real processes, configured by environment variables alone), observed by
the real Prometheus and Jaeger of ``scripts/services`` (tests/observability/backends.py):
Prometheus scrapes both and answers with what the test did; Jaeger holds one trace from the HTTP
request to the consumer in the worker."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from sales_graph.db.engine import Database
from sales_graph.db.models import OutboxEvent
from sales_graph.events.subscriptions import SUBSCRIPTIONS
from sales_graph.settings import TopicSettings
from sales_graph.worker.launch import subscriptions
from tests.events.conftest import read_topic
from tests.gateways import seeded_org
from tests.kafka_topics import unique_topics
from tests.observability.backends import Jaeger, Prometheus, Series, Trace, span_tags

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]

CLI = "from sales_graph.cli import main; main()"
# Startup of a process on two busy cores (imports, migrations checked, Kafka joined).
START_DEADLINE_S = 150.0
# From a request to its value in Prometheus, or its spans in Jaeger.
BACKEND_DEADLINE_S = 60.0
PARTITIONS = 2  # of the topics the worker creates (fewer files on the shared broker)
# The worker's consumers (events/subscriptions.py), each in a group of its own: Marketing's
# leads, Billing's contracts, the forecast refresh, and the webhook fan-out of every topic.
CONSUMERS = tuple(s.name for s in SUBSCRIPTIONS)
# The consumers of opportunity events that continue the request's trace: one message at a time.
# A consumer with a batch handler (the webhook fan-out) handles a partition's batch in a trace
# of its own, linked to each message's (docs/operations.md).
OPPORTUNITY_CONSUMERS = tuple(
    s.name for s in subscriptions() if s.topic == "opportunities" and s.batch_handler is None
)

CREATE_LEAD = """
mutation CreateLead($input: CreateLeadInput!) { createLead(input: $input) { id status } }
"""
LEAD_COUNT = "query LeadCount { leads(first: 1) { totalCount } }"
CONVERT_LEAD = """
mutation ConvertLead($leadId: ID!, $input: ConvertLeadInput!) {
  convertLead(leadId: $leadId, input: $input) { id stage }
}"""


# ---------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Started:
    """A ``sales-graph`` command running in the background, its output in ``log``."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        last = "\n".join(text.splitlines()[-lines:])
        return f"--- last lines of {self.name} (exit {self.process.poll()}) ---\n{last}"


@dataclass
class Deployment:
    """One test's gateway and worker: their settings, addresses and output."""

    env: dict[str, str]
    topics: TopicSettings
    consumer_group: str
    gateway_url: str = ""
    worker_metrics: str = ""
    started: tuple[Started, ...] = ()

    def logs(self) -> str:
        return "\n".join(s.tail() for s in self.started)

    def cli(self, *args: str) -> str:
        """A ``sales-graph`` command run to its end with the deployment's settings: stdout."""
        run = subprocess.run(  # noqa: S603 - our own command
            [sys.executable, "-c", CLI, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=START_DEADLINE_S,
            check=False,
        )
        assert run.returncode == 0, f"sales-graph {' '.join(args)}: {run.stderr}"
        return run.stdout.strip()


def operator_env(database_url: str, data_dir: Path, bootstrap: str) -> Deployment:
    """The environment an operator gives both commands: this test's database, data directory
    (its signing keys), Kafka topics and consumer groups of its own; nothing of the test run's
    own SALES_GRAPH_*, PROMETHEUS_* or OTEL_* variables."""
    topics = unique_topics()
    group = f"sg-e2e-{uuid.uuid4().hex[:10]}"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SALES_GRAPH_", "PROMETHEUS_", "OTEL_"))
    }
    env |= {
        "SALES_GRAPH_DATABASE_URL": database_url,
        "SALES_GRAPH_DATA_DIR": str(data_dir),
        "SALES_GRAPH_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SALES_GRAPH_EVENTS__IN_PROCESS": "false",
        "SALES_GRAPH_EVENTS__CONSUMER_GROUP": group,
        "SALES_GRAPH_EVENTS__TOPIC_PARTITIONS": str(PARTITIONS),
        "SALES_GRAPH_EVENTS__RELAY_POLL_INTERVAL_S": "0.2",
        "SALES_GRAPH_RATE_LIMIT__ENABLED": "false",
        "SALES_GRAPH_FINANCE_SYNC__ENABLED": "false",
        "SALES_GRAPH_LOG_LEVEL": "WARNING",
    }
    for name, topic in topics.model_dump().items():
        env[f"SALES_GRAPH_EVENTS__TOPICS__{name.upper()}"] = topic
    return Deployment(env=env, topics=topics, consumer_group=group)


@contextmanager
def background(
    name: str, args: list[str], env: dict[str, str], log: Path, stop: signal.Signals
) -> Iterator[Started]:
    """``sales-graph <args>`` in the background, stdout and stderr into ``log``; stopped with
    ``stop`` at the end (killed when it does not stop in 30 s)."""
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-c", CLI, *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield Started(name, process, log)
    finally:
        if process.poll() is None:
            process.send_signal(stop)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def answering(url: str, started: Started) -> None:
    """Until ``url`` answers 200; fails with the process's output when it exits or the
    deadline passes."""
    end = time.monotonic() + START_DEADLINE_S
    async with httpx.AsyncClient(timeout=5.0) as client:
        while True:
            assert started.process.poll() is None, f"{started.name} exited\n{started.tail()}"
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < end, (
                f"{url} did not answer in {START_DEADLINE_S:.0f} s\n{started.tail()}"
            )
            await asyncio.sleep(0.1)


@contextmanager
def deployed(
    deployment: Deployment, tmp_path: Path, gateway_env: dict[str, str], worker_env: dict[str, str]
) -> Iterator[Deployment]:
    """``sales-graph serve --workers 2`` and ``sales-graph worker`` started (not yet ready:
    see :func:`ready`), stopped at the end."""
    port, worker_port = _free_port(), _free_port()
    with ExitStack() as stack:
        gateway = stack.enter_context(
            background(
                "sales-graph serve",
                ["serve", "--workers", "2", "--port", str(port)],
                deployment.env | gateway_env,
                tmp_path / "serve.log",
                signal.SIGINT,
            )
        )
        worker = stack.enter_context(
            background(
                "sales-graph worker",
                ["worker"],
                deployment.env
                | {"SALES_GRAPH_METRICS__WORKER_PORT": str(worker_port)}
                | worker_env,
                tmp_path / "worker.log",
                signal.SIGTERM,
            )
        )
        deployment.gateway_url = f"http://127.0.0.1:{port}"
        deployment.worker_metrics = f"127.0.0.1:{worker_port}"
        deployment.started = (gateway, worker)
        yield deployment


async def ready(deployment: Deployment) -> None:
    gateway, worker = deployment.started
    await answering(f"{deployment.gateway_url}/healthz", gateway)
    await answering(f"http://{deployment.worker_metrics}/metrics", worker)


# ---------------------------------------------------------------------------- requests


class Api:
    """A client of the running gateway, as the admin (a token from ``sales-graph token``);
    a new connection per request, so that both uvicorn workers answer some."""

    def __init__(self, deployment: Deployment, token: str) -> None:
        self.deployment = deployment
        self.headers = {"Authorization": f"Bearer {token}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=self.deployment.gateway_url, timeout=30.0, limits=limits
        ) as client:
            return await client.request(method, path, headers=self.headers, **kwargs)

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.request(
            "POST", "/graphql", json={"query": query, "variables": variables}
        )
        assert response.status_code == 200, f"{response.text}\n{self.deployment.logs()}"
        body: dict[str, Any] = response.json()
        assert "errors" not in body, f"{body['errors']}\n{self.deployment.logs()}"
        data: dict[str, Any] = body["data"]
        return data


def lead_input() -> dict[str, str]:
    return {"email": f"e2e-{uuid.uuid4().hex[:8]}@example.com", "company": "Acme", "country": "US"}


# ---------------------------------------------------------------------------- Prometheus


def _by(series: list[Series], label: str) -> dict[str, float]:
    return {s["metric"].get(label, ""): float(s["value"][1]) for s in series}


async def settles_at(
    prometheus: Prometheus,
    promql: str,
    expected: dict[str, float],
    label: str,
    deployment: Deployment,
) -> None:
    """Until ``promql``'s series, keyed by ``label``, read ``expected`` exactly."""
    try:
        await prometheus.wait_for_series(
            promql, BACKEND_DEADLINE_S, predicate=lambda series: _by(series, label) == expected
        )
    except AssertionError:
        last = _by(await prometheus.query(promql), label)
        raise AssertionError(
            f"{promql}: {last}, expected {expected}\n{deployment.logs()}"
        ) from None


async def test_prometheus_scrapes_a_running_gateway_and_worker(
    prometheus: Prometheus,
    fresh_postgres: str,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    await seeded_org(fresh_postgres)
    deployment = operator_env(fresh_postgres, tmp_path / "data", kafka_bootstrap)
    token = deployment.cli("token", "--role", "admin")
    run = uuid.uuid4().hex[:10]
    gw_job, wk_job = f"sg_e2e_gateway_{run}", f"sg_e2e_worker_{run}"
    worker_env = {"SALES_GRAPH_METRICS__SAMPLE_INTERVAL_S": "0.5"}
    with deployed(deployment, tmp_path, {}, worker_env):
        await ready(deployment)
        # Scraped on the gateway's main listener (no METRICS__PORT): whichever uvicorn worker
        # answers the scrape sums both.
        prometheus.add_target(gw_job, deployment.gateway_url.removeprefix("http://"))
        prometheus.add_target(wk_job, deployment.worker_metrics)
        try:
            await _scraped(prometheus, deployment, Api(deployment, token), gw_job, wk_job)
        finally:
            prometheus.remove_target(gw_job)
            prometheus.remove_target(wk_job)


async def _scraped(
    prometheus: Prometheus, deployment: Deployment, api: Api, gw: str, wk: str
) -> None:
    for job in (gw, wk):
        await settles_at(prometheus, f'up{{job="{job}"}}', {job: 1.0}, "job", deployment)

    # What the test sends: one mutation (its events go through the outbox), three named
    # queries, two REST reads (one found, one not).
    created = await api.data(CREATE_LEAD, input=lead_input())
    lead_id = created["createLead"]["id"]
    for _ in range(3):
        counted = await api.data(LEAD_COUNT)
        assert counted == {"leads": {"totalCount": 1}}
    found = await api.request("GET", f"/api/v1/leads/{lead_id}")
    assert found.status_code == 200, found.text
    missing = await api.request("GET", f"/api/v1/leads/{uuid.uuid4()}")
    assert missing.status_code == 404, missing.text

    # The gateway's job: requests by route template and status, summed over both workers.
    requests = f'sales_graph_http_requests_total{{job="{gw}"'
    await settles_at(
        prometheus,
        f'sum by (status) ({requests},route="/graphql",method="POST"}})',
        {"200": 4.0},
        "status",
        deployment,
    )
    await settles_at(
        prometheus,
        f'sum by (status) ({requests},route="/api/v1/leads/{{id}}",method="GET"}})',
        {"200": 1.0, "404": 1.0},
        "status",
        deployment,
    )
    # No path with an id became a label.
    paths = await prometheus.query(f'{requests},route=~".*{lead_id}.*"}}')
    assert paths == []
    await settles_at(
        prometheus,
        f'sum by (operation) (sales_graph_graphql_operations_total{{job="{gw}",'
        'operation=~"LeadCount|CreateLead"})',
        {"LeadCount": 3.0, "CreateLead": 1.0},
        "operation",
        deployment,
    )
    types = await prometheus.query(
        f'sum by (type) (sales_graph_graphql_operations_total{{job="{gw}",operation="CreateLead"}})'
    )
    assert _by(types, "type") == {"mutation": 1.0}
    statements = await prometheus.wait_for_series(
        f'sum by (kind) (sales_graph_db_statement_duration_seconds_count{{job="{gw}",'
        'dialect="postgresql"})',
        BACKEND_DEADLINE_S,
        predicate=lambda s: _by(s, "kind").get("insert", 0) > 0,
    )
    assert _by(statements, "kind")["select"] > 0, statements

    # The worker's job: the relay published the mutation's two events (lead.created and its
    # automatic lead.assigned) on the leads topic, as many as reached Kafka.
    messages = await read_topic(
        kafka_bootstrap_of(deployment),
        deployment.topics.leads,
        count=2,
        where=lambda m: m.key == lead_id,
    )
    assert sorted(m.headers["event_type"] for m in messages) == ["lead.assigned", "lead.created"]
    await settles_at(
        prometheus,
        f'sum by (topic) (sales_graph_events_published_total{{job="{wk}"}})',
        {"leads": 2.0},
        "topic",
        deployment,
    )
    # The monitor's sample after the publication: nothing pending, nothing parked.
    for gauge in (
        "sales_graph_outbox_pending_rows",
        "sales_graph_outbox_oldest_pending_age_seconds",
        "sales_graph_outbox_parked_rows",
    ):
        await settles_at(prometheus, f'{gauge}{{job="{wk}"}}', {wk: 0.0}, "job", deployment)
    # Each consumer holds every partition of its topic, and is not behind on any.
    lag = f'sales_graph_consumer_lag_messages{{job="{wk}"}}'
    await settles_at(
        prometheus,
        f"count by (consumer) ({lag})",
        {name: float(PARTITIONS) for name in CONSUMERS},
        "consumer",
        deployment,
    )
    await settles_at(
        prometheus,
        f"max by (consumer) ({lag})",
        dict.fromkeys(CONSUMERS, 0.0),
        "consumer",
        deployment,
    )
    topics = _by(await prometheus.query(f"max by (topic) ({lag})"), "topic")
    assert set(topics) == {str(getattr(deployment.topics, s.topic)) for s in SUBSCRIPTIONS}
    # The gateway does not relay (the worker does), and the worker answers no HTTP requests.
    assert await prometheus.query(f'sales_graph_events_published_total{{job="{gw}"}}') == []
    assert await prometheus.query(f'sales_graph_http_requests_total{{job="{wk}"}}') == []


def kafka_bootstrap_of(deployment: Deployment) -> str:
    return deployment.env["SALES_GRAPH_KAFKA_BOOTSTRAP_SERVERS"]


# ---------------------------------------------------------------------------- Jaeger


@dataclass(frozen=True)
class Span:
    id: str
    name: str
    service: str
    parent: str | None
    tags: dict[str, Any]


def spans_of(trace: Trace) -> dict[str, Span]:
    services = {key: p["serviceName"] for key, p in trace["processes"].items()}
    found: dict[str, Span] = {}
    for span in trace["spans"]:
        parents = [r["spanID"] for r in span.get("references", []) if r["refType"] == "CHILD_OF"]
        found[span["spanID"]] = Span(
            span["spanID"],
            span["operationName"],
            services[span["processID"]],
            parents[0] if parents else None,
            span_tags(span),
        )
    return found


def lineage(span: Span, spans: dict[str, Span]) -> list[Span]:
    """The span, its parent, its parent's parent ... as far as the trace has them."""
    chain = [span]
    while chain[-1].parent is not None and chain[-1].parent in spans:
        chain.append(spans[chain[-1].parent])
    return chain


def named(spans: dict[str, Span], name: str, **tags: Any) -> list[Span]:
    return [
        s
        for s in spans.values()
        if s.name == name and all(s.tags.get(k) == v for k, v in tags.items())
    ]


async def opportunity_created(database_url: str, opportunity_id: str) -> OutboxEvent:
    db = Database(database_url)
    try:
        async with db.session() as session:
            statement = select(OutboxEvent).where(
                OutboxEvent.event_type == "opportunity.created", OutboxEvent.key == opportunity_id
            )
            return (await session.exec(statement)).one()
    finally:
        await db.dispose()


async def test_one_trace_in_jaeger_from_the_request_to_the_consumer(
    jaeger: Jaeger,
    fresh_postgres: str,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    await seeded_org(fresh_postgres)
    deployment = operator_env(fresh_postgres, tmp_path / "data", kafka_bootstrap)
    token = deployment.cli("token", "--role", "admin")
    run = uuid.uuid4().hex[:10]
    gateway_service, worker_service = f"sg-e2e-gateway-{run}", f"sg-e2e-worker-{run}"
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_url, "OTEL_BSP_SCHEDULE_DELAY": "200"}
    with deployed(
        deployment,
        tmp_path,
        otel | {"OTEL_SERVICE_NAME": gateway_service},
        otel | {"OTEL_SERVICE_NAME": worker_service},
    ):
        await ready(deployment)
        api = Api(deployment, token)
        created = await api.data(CREATE_LEAD, input=lead_input())
        # The traced mutation: its opportunity.created is handled by the worker's consumers of
        # the topic, forecast-refresh and the webhook fan-out (docs/events.md).
        converted = await api.data(
            CONVERT_LEAD,
            leadId=created["createLead"]["id"],
            input={
                "opportunityName": "Acme - Enterprise",
                "amount": 50000.0,
                "expectedCloseDate": (date.today() + timedelta(days=30)).isoformat(),
            },
        )
        opportunity_id = converted["convertLead"]["id"]
        row = await opportunity_created(fresh_postgres, opportunity_id)
        event_id = str(row.event_id)
        send_name = f"send {deployment.topics.opportunities}"
        process_name = f"process {deployment.topics.opportunities}"

        def complete(trace: Trace) -> bool:
            spans = spans_of(trace)
            return bool(
                named(spans, "mutation ConvertLead")
                and named(spans, send_name, **{"messaging.message.id": event_id})
                and all(
                    named(
                        spans,
                        process_name,
                        **{
                            "messaging.message.id": event_id,
                            "messaging.consumer.group.name": f"{deployment.consumer_group}.{c}",
                        },
                    )
                    for c in OPPORTUNITY_CONSUMERS
                )
            )

        try:
            trace = await jaeger.wait_for_trace(worker_service, complete, BACKEND_DEADLINE_S)
        except AssertionError as exc:
            stored = await jaeger.traces(gateway_service) + await jaeger.traces(worker_service)
            names = sorted({s["operationName"] for t in stored for s in t["spans"]})
            raise AssertionError(f"{exc}\nspans stored: {names}\n{deployment.logs()}") from None
    _one_trace(trace, row, deployment, gateway_service, worker_service)


def _one_trace(
    trace: Trace, row: OutboxEvent, deployment: Deployment, gateway: str, worker: str
) -> None:
    spans = spans_of(trace)
    event_id = str(row.event_id)
    # The outbox row holds the trace context of the span that recorded the event.
    assert row.traceparent is not None
    _version, row_trace, row_span, _flags = row.traceparent.split("-")
    assert trace["traceID"].rjust(32, "0") == row_trace
    assert {s.service for s in spans.values()} == {gateway, worker}

    # The request: the HTTP server span, the GraphQL operation under it, SQL under that.
    (server,) = named(spans, "POST /graphql")
    assert (server.service, server.parent) == (gateway, None)
    assert server.tags["span.kind"] == "server"
    assert server.tags["http.route"] == "/graphql"
    (operation,) = named(spans, "mutation ConvertLead")
    assert (operation.service, operation.parent) == (gateway, server.id)
    assert operation.tags["graphql.operation.name"] == "ConvertLead"
    statements = {
        name: [s for s in named(spans, name) if operation in lineage(s, spans)]
        for name in ("INSERT", "UPDATE")
    }
    for name, found in statements.items():
        assert found, (
            f"no {name} span under the operation: {sorted(s.name for s in spans.values())}"
        )
        for statement in found:
            assert statement.service == gateway
            assert statement.tags["span.kind"] == "client"
            assert statement.tags["db.system.name"] == "postgresql"
            assert str(statement.tags["db.query.text"]).startswith(name)
    assert any("INSERT INTO outbox" in str(s.tags["db.query.text"]) for s in statements["INSERT"])

    # The relay in the worker: its send span's parent is the context the row stored, a span
    # of the request under the operation.
    (send,) = named(spans, f"send {deployment.topics.opportunities}")
    assert send.service == worker
    assert send.tags["span.kind"] == "producer"
    assert send.tags["messaging.message.id"] == event_id
    assert send.tags["messaging.system"] == "kafka"
    assert send.parent is not None
    assert send.parent == row_span
    recording = spans[send.parent]
    assert recording.service == gateway
    assert operation in lineage(recording, spans)

    # Each consumer of the topic in the worker that handles one message at a time
    # (forecast-refresh) continues it, once: its chain reaches the send.
    processes = named(spans, f"process {deployment.topics.opportunities}")
    groups = sorted(str(p.tags["messaging.consumer.group.name"]) for p in processes)
    assert groups == sorted(f"{deployment.consumer_group}.{c}" for c in OPPORTUNITY_CONSUMERS)
    for process in processes:
        assert process.service == worker
        assert process.tags["span.kind"] == "consumer"
        assert process.tags["messaging.message.id"] == event_id
        chain = lineage(process, spans)
        assert send in chain
        assert chain[-1] == server
