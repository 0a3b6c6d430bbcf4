"""Liveness, readiness against the real services, and a demo user calling ``me``."""

from __future__ import annotations

from pathlib import Path

from sales_graph.app import create_app
from sales_graph.ops import issue_user_token, prepare_demo
from sales_graph.settings import Settings
from tests.e2e.test_http_errors import assert_envelope
from tests.gateways import live_server


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None, **values)  # type: ignore[call-arg]


async def test_ready_with_postgres_redis_and_kafka(
    tmp_path: Path, fresh_postgres: str, redis_url: str, kafka_bootstrap: str
) -> None:
    settings = _settings(
        tmp_path,
        database_url=fresh_postgres,
        redis_url=redis_url,
        kafka_bootstrap_servers=kafka_bootstrap,
    )
    async with live_server(create_app(settings)) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert set(checks) == {"database", "redis", "kafka"}
    assert all(check["status"] == "ok" for check in checks.values())


def metrics_text() -> str:
    from sales_graph.telemetry import metrics

    return metrics.exposition()[0].decode()


async def test_redis_and_kafka_away_is_degraded_not_unready(
    tmp_path: Path, fresh_postgres: str
) -> None:
    """The gateway serves without Redis and Kafka: a load balancer must keep it in service."""
    # Nothing listens on port 1: Redis and Kafka both fail, the database does not.
    settings = _settings(
        tmp_path,
        database_url=fresh_postgres,
        redis_url="redis://127.0.0.1:1/0",
        kafka_bootstrap_servers="127.0.0.1:1",
    )
    async with live_server(create_app(settings)) as client:
        assert (await client.get("/healthz")).status_code == 200
        response = await client.get("/readyz")
        served = await client.post("/graphql", json={"query": "{ health { status } }"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "degraded"
    assert body["degraded"] == ["kafka", "redis"]
    checks = body["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["redis"]["status"] == "fail"
    assert checks["kafka"]["status"] == "fail"
    assert served.status_code == 200, served.text
    exposed = metrics_text()
    assert 'sales_graph_dependency_up{dependency="redis"} 0.0' in exposed
    assert 'sales_graph_dependency_up{dependency="database"} 1.0' in exposed


async def test_database_away_is_not_ready(tmp_path: Path, fresh_postgres: str) -> None:
    """The database stops answering after the start (its ping refused, as a stopped server
    refuses it): the one dependency readiness fails for."""
    app = create_app(_settings(tmp_path, database_url=fresh_postgres))

    async def refused() -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    async with live_server(app) as client:
        app.state.runtime.db.ping = refused
        response = await client.get("/readyz")
    error = assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
    assert error["message"] == "Not ready: database"
    assert error["details"]["checks"]["database"] == {
        "status": "fail",
        "error": "ConnectionRefusedError",
    }


async def test_demo_user_calls_me_with_a_printed_token(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    lines = await prepare_demo(settings, "http://127.0.0.1:8000")
    assert "  GraphQL:     http://127.0.0.1:8000/graphql  (GraphiQL in a browser)" in lines
    assert lines[-3].startswith("  sales_rep ")  # the tokens last
    printed = {line.split()[0]: line.split()[1] for line in lines if line.startswith("  sales_")}
    partner_key = lines[
        lines.index(next(line for line in lines if "X-API-Key" in line)) + 1
    ].strip()
    assert set(printed) == {"sales_rep", "sales_manager"}
    token = await issue_user_token(settings, email=None, role="admin")
    async with live_server(create_app(settings)) as client:
        for bearer, role in [(token, "ADMIN"), (printed["sales_rep"], "SALES_REP")]:
            response = await client.post(
                "/graphql",
                json={"query": "{ me { email role } health { status } }"},
                headers={"Authorization": f"Bearer {bearer}"},
            )
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            assert data["me"]["role"] == role
            assert data["health"] == {"status": "ok"}
        partner = await client.post(
            "/graphql",
            json={"query": "{ leads(limit: 1) { totalCount } }"},
            headers={"X-API-Key": partner_key},
        )
        assert partner.json()["data"]["leads"]["totalCount"] == 300
