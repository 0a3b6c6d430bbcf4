from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from sales_graph.settings import Environment, Settings, UpstreamSettings


def test_defaults_are_the_embedded_footprint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.env is Environment.DEVELOPMENT
    assert settings.redis_url is None
    assert settings.kafka_bootstrap_servers is None
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path / 'sales_graph.db'}"
    assert settings.events_log_file == Path("events.jsonl")
    assert settings.graphql.default_page_size == 50
    assert settings.graphql.max_page_size == 200


def test_environment_variables_with_prefix_and_nested_groups(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SALES_GRAPH_ENV", "production")
    monkeypatch.setenv("SALES_GRAPH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SALES_GRAPH_DATABASE_URL", "postgresql+asyncpg://u:p@db/sales_graph")
    monkeypatch.setenv("SALES_GRAPH_BILLING__BASE_URL", "http://billing:9000")
    monkeypatch.setenv("SALES_GRAPH_BILLING__DEADLINE_S", "3.5")
    monkeypatch.setenv("SALES_GRAPH_AUTH__ACCESS_TOKEN_TTL_S", "600")
    settings = Settings()
    assert settings.is_production
    assert settings.effective_database_url == "postgresql+asyncpg://u:p@db/sales_graph"
    assert settings.billing.base_url == "http://billing:9000"
    assert settings.billing.deadline_s == 3.5
    assert settings.marketing.base_url is None
    assert settings.auth.access_token_ttl_s == 600
    assert settings.effective_signing_keys_file == tmp_path / "signing-keys.json"
    assert settings.events_log_file == tmp_path / "events.jsonl"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SALES_GRAPH_ENV", "staging"),
        ("SALES_GRAPH_FISCAL_YEAR_START_MONTH", "13"),
        ("SALES_GRAPH_GRAPHQL__MAX_PAGE_SIZE", "0"),
        ("SALES_GRAPH_CUSTOMER_EXPERIENCE__WEBHOOK_SECRET", "whsec_c2VjcmV0 whsec_abcde"),
    ],
)
def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(
        ValueError, match=name.removeprefix("SALES_GRAPH_").split("__")[-1].lower()
    ) as refused:
        Settings()
    assert "input_value" not in str(refused.value)  # a refused value may be a secret


def test_a_blank_webhook_secret_is_none_configured() -> None:
    assert UpstreamSettings(webhook_secret=SecretStr(" ")).webhook_secret is None
    rotating = UpstreamSettings(webhook_secret=SecretStr("whsec_c2VjcmV0 whsec_b3RoZXI="))
    assert rotating.webhook_secret is not None


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u:p@db:5432/sales", "postgresql+asyncpg://u:p@db:5432/sales"),
        ("postgres://u:p@db/sales", "postgresql+asyncpg://u:p@db/sales"),
        ("POSTGRESQL://u@db/sales", "postgresql+asyncpg://u@db/sales"),
        ("postgresql+asyncpg://u@db/sales", "postgresql+asyncpg://u@db/sales"),
        ("sqlite:////data/sales.db", "sqlite+aiosqlite:////data/sales.db"),
        ("mysql://u@db/sales", "mysql://u@db/sales"),
    ],
)
def test_a_database_url_without_its_async_driver_gets_it(given: str, used: str) -> None:
    """As psql and libpq write it; another scheme is left for the database check to refuse."""
    assert Settings(database_url=given, _env_file=None).effective_database_url == used


def test_a_blank_metrics_port_is_none() -> None:
    settings = Settings(_env_file=None, metrics={"worker_port": "", "port": " "})
    assert settings.metrics.worker_port is None
    assert settings.metrics.port is None
