"""Every setting of sales-graph, read once from ``SALES_GRAPH_*`` environment variables.

Nested groups use ``__`` as the separator, e.g. ``SALES_GRAPH_BILLING__BASE_URL``.
With nothing set, the embedded footprint is used: a SQLite file, in-process cache and
rate limits, and the in-process event bus, kept in the working directory or in
``SALES_GRAPH_DATA_DIR``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class UpstreamSettings(BaseModel):
    """How to reach one external system."""

    base_url: str | None = None
    api_key: SecretStr | None = None
    connect_timeout_s: float = 2.0
    read_timeout_s: float = 5.0
    deadline_s: float = 8.0
    max_connections: int = 50


class AuthSettings(BaseModel):
    issuer: str = "sales-graph"
    audience: str = "sales-graph"
    access_token_ttl_s: int = Field(default=3600, gt=0)
    # A JSON Web Key Set with private keys; generated on first use when the file is missing.
    signing_keys_file: Path | None = None
    external_jwks_url: str | None = None
    external_issuer: str | None = None
    external_audience: str | None = None
    external_roles_claim: str = "roles"


class GraphQLSettings(BaseModel):
    default_page_size: int = Field(default=50, gt=0)
    max_page_size: int = Field(default=200, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SALES_GRAPH_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path(".")
    database_url: str | None = None
    database_echo: bool = False
    redis_url: str | None = None
    kafka_bootstrap_servers: str | None = None
    log_level: str = "INFO"
    log_json: bool = True
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12)

    auth: AuthSettings = AuthSettings()
    graphql: GraphQLSettings = GraphQLSettings()

    marketing: UpstreamSettings = UpstreamSettings()
    customer_experience: UpstreamSettings = UpstreamSettings()
    support: UpstreamSettings = UpstreamSettings()
    billing: UpstreamSettings = UpstreamSettings()
    finance: UpstreamSettings = UpstreamSettings()

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'sales_graph.db').resolve()}"

    @property
    def effective_signing_keys_file(self) -> Path:
        return self.auth.signing_keys_file or self.data_dir / "signing-keys.json"

    @property
    def events_log_file(self) -> Path:
        return self.data_dir / "events.jsonl"

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION
