"""Every setting of sales-graph, read once from ``SALES_GRAPH_*`` environment variables.

Nested groups use ``__`` as the separator, e.g. ``SALES_GRAPH_BILLING__BASE_URL``.
With nothing set, the embedded footprint is used: a SQLite file, in-process cache and
rate limits, and the in-process event bus, kept in the working directory or in
``SALES_GRAPH_DATA_DIR``.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError


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
    max_connections: int = Field(default=50, gt=0)
    # The connections are split over this many httpx clients, used in turn: httpcore rescans
    # every pooled connection for each request, so one pool of 50 costs ~4 x the CPU of 5 x 10.
    connection_pools: int = Field(default=5, gt=0)
    # Retries (full-jitter backoff, inside the deadline), circuit breaker, payload cap, cache;
    # see docs/upstreams.md. cache_ttls overrides the client's per-resource TTLs in seconds.
    retry_max_attempts: int = Field(default=4, ge=1)
    retry_base_backoff_s: float = Field(default=0.1, ge=0)
    retry_max_backoff_s: float = Field(default=2.0, ge=0)
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_reset_timeout_s: float = Field(default=30.0, ge=0)
    max_response_bytes: int = Field(default=1024 * 1024, gt=0)
    stale_ttl_s: float = Field(default=86400, ge=0)
    cache_ttls: dict[str, float] = Field(default_factory=dict)
    # Signs the system's webhooks to us (Standard Webhooks); only Customer Experience sends any.
    # Several, space-separated, during a rotation.
    webhook_secret: SecretStr | None = None

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secrets(cls, value: SecretStr | None) -> SecretStr | None:
        """Each secret is one the Standard Webhooks library takes (``whsec_<base64>``), so a
        bad one stops the start rather than every delivery; blank is none."""
        secrets = value.get_secret_value().split() if value is not None else []
        for secret in secrets:
            try:
                Webhook(secret)
            except (ValueError, EmptyWebhookSecretError) as exc:
                raise ValueError("each secret must be whsec_ and base64") from exc
        return value if secrets else None


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
    # The claim that names our user (matched to users.email); see docs/auth.md.
    external_email_claim: str = "email"
    external_jwks_timeout_s: float = Field(default=3.0, gt=0)
    external_jwks_max_age_s: int = Field(default=3600, gt=0)
    # At most one refresh per interval when a token names a kid we do not know.
    external_jwks_refresh_interval_s: int = Field(default=60, ge=0)
    # /.well-known/jwks.json Cache-Control max-age: short, so a rotation is seen soon.
    jwks_max_age_s: int = Field(default=300, ge=0)
    # last_used_at of an API key is written at most once per interval.
    api_key_last_used_interval_s: int = Field(default=60, ge=0)


class GraphQLSettings(BaseModel):
    default_page_size: int = Field(default=50, gt=0)
    max_page_size: int = Field(default=200, gt=0)
    # Query limits, checked before execution; see docs/limits.md for the cost model.
    max_depth: int = Field(default=10, gt=0)
    max_aliases: int = Field(default=30, ge=0)
    max_tokens: int = Field(default=2000, gt=0)
    max_cost: int = Field(default=50_000, gt=0)
    # How fields execute (schema/execution.py): "planned" completes the fields that only read
    # an attribute inline; "generic" is graphql-core's way for every field; "verified" (the
    # test suite) is planned with each inline value checked against the generic one.
    execution: Literal["planned", "generic", "verified"] = "planned"


class HTTPSettings(BaseModel):
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    # Browser origins allowed to call the API (CORS); none by default.
    cors_origins: list[str] = Field(default_factory=list)
    cors_max_age_s: int = Field(default=600, ge=0)


class RateLimitSettings(BaseModel):
    """The spec's limits: per principal per window, a burst window, and a global window."""

    enabled: bool = True
    principal_limit: int = Field(default=1000, gt=0)
    burst_limit: int = Field(default=50, gt=0)
    global_limit: int = Field(default=100_000, gt=0)
    window_s: float = Field(default=60.0, gt=0)
    burst_window_s: float = Field(default=1.0, gt=0)
    # Per client address, each in its own bucket: POST /oauth/token and the JWKS per window_s
    # (and burst_window_s), failed authentications per auth_failure_window_s.
    token_limit: int = Field(default=120, gt=0)
    token_burst_limit: int = Field(default=10, gt=0)
    jwks_limit: int = Field(default=600, gt=0)
    jwks_burst_limit: int = Field(default=50, gt=0)
    auth_failure_limit: int = Field(default=300, gt=0)
    auth_failure_window_s: float = Field(default=60.0, gt=0)
    key_prefix: str = "sales-graph:ratelimit"
    # When Redis does not answer in time, count in process and try Redis again after retry_s.
    store_timeout_s: float = Field(default=0.25, gt=0)
    store_retry_s: float = Field(default=5.0, ge=0)


class TopicSettings(BaseModel):
    """Kafka topic names (DESIGN.md section 5); dead letters go to ``<topic>.dlq``."""

    leads: str = "sales.leads"
    opportunities: str = "sales.opportunities"
    territories: str = "sales.territories"
    quotas: str = "sales.quotas"
    billing: str = "sales.billing"
    operations: str = "sales.operations"
    forecasts: str = "sales.forecasts"
    # Notices about partners' webhook endpoints (webhook.endpoint_disabled).
    webhooks: str = "sales.webhooks"
    # Inbound: Marketing's lead.qualified events.
    marketing_leads: str = "marketing.leads"


class EventSettings(BaseModel):
    """The outbox relay, the consumers and the forecast scheduler (docs/events.md)."""

    topics: TopicSettings = TopicSettings()
    # Partitions of the topics the worker creates when they are missing.
    topic_partitions: int = Field(default=6, gt=0)
    # Embedded footprint (no Kafka): the gateway runs the relay, the bus and the forecast
    # services in process. Off: events wait in the outbox until a worker runs.
    in_process: bool = True
    # The relay: rows per claim, idle poll interval (PostgreSQL also wakes it by NOTIFY),
    # attempts before a row is parked with its error.
    relay_batch_size: int = Field(default=2000, gt=0, le=10_000)
    relay_poll_interval_s: float = Field(default=0.5, gt=0)
    relay_max_attempts: int = Field(default=20, gt=0)
    relay_retry_backoff_s: float = Field(default=1.0, ge=0)
    consumer_group: str = "sales-graph"
    # A consumed message that keeps failing goes to <topic>.dlq after this many attempts.
    consumer_max_attempts: int = Field(default=5, gt=0)
    # Our database or Redis away is waited out this long before a message is dead-lettered.
    consumer_unavailable_deadline_s: float = Field(default=240.0, ge=0, le=280)
    consumer_retry_backoff_s: float = Field(default=0.2, ge=0)
    # Forecast generation: the daily run (cron, time zone) and the coalescing window of the
    # recalculation that follows opportunity changes; forecasts are cached for cache_ttl_s.
    forecast_cron: str = "0 6 * * *"
    forecast_timezone: str = "UTC"
    forecast_debounce_s: float = Field(default=1.0, ge=0)
    forecast_cache_ttl_s: int = Field(default=26 * 3600, gt=0)


class SubscriptionSettings(BaseModel):
    """GraphQL subscriptions (docs/real-time.md): ``SALES_GRAPH_SUBSCRIPTIONS__...``."""

    # Operations one WebSocket connection may run at once (an SSE request runs one).
    max_per_connection: int = Field(default=10, gt=0)
    # Subscriptions one principal (a user, a partner client) may hold in one gateway process.
    max_per_principal: int = Field(default=50, gt=0)
    # Events waiting for one subscription; a subscriber that lets more pile up is closed.
    queue_size: int = Field(default=100, gt=0)
    # A graphql-transport-ws ``ping`` (WebSocket) or a comment line (SSE) this often.
    heartbeat_s: float = Field(default=15.0, gt=0)
    # The credentials of an open connection are checked again this often (a revoked key or
    # client, a deactivated user), and at a token's expiry.
    recheck_s: float = Field(default=60.0, gt=0)
    # Seconds to wait for ``connection_init`` after the WebSocket opened.
    connection_init_timeout_s: float = Field(default=10.0, gt=0)
    # pipelineChanged waits this long after a change for more before it answers once.
    coalesce_s: float = Field(default=0.5, ge=0)
    # Deliveries of one process that hold a database connection at once (reading the event
    # again, running its selection); the others wait their turn for as long as it takes, not
    # for a pooled connection, whose wait times out (a burst of 1,000 subscribers would end
    # those that waited longest with SERVICE_UNAVAILABLE). Below the pool's 10 + 20, so
    # requests keep connections of their own.
    max_concurrent_deliveries: int = Field(default=10, gt=0)
    # With Kafka: each gateway process reads the topics itself (no consumer group, from the
    # latest offset); false: subscriptions get no events from Kafka.
    kafka_feed: bool = True


class WebhookSettings(BaseModel):
    """Outbound webhooks to partners (docs/real-time.md, "Outbound webhooks")."""

    # The worker (and the embedded gateway) fans events out to endpoints and sends them.
    enabled: bool = True
    # Networks a target URL may resolve into although they are loopback, private, link-local or
    # otherwise not global (CIDRs, e.g. "127.0.0.1/32" for a receiver on this machine).
    allowed_networks: list[str] = Field(default_factory=list)
    # Only https:// targets (http:// only when this is off: tests, development).
    require_https: bool = True
    # One attempt's whole time (connect, send, answer).
    timeout_s: float = Field(default=10.0, gt=0)
    # Attempts of one delivery, and the backoff between them: base_backoff_s doubling after each
    # failure up to max_backoff_s, each wait drawn from [0.75, 1.25] of it (jitter). With the
    # defaults the 15 attempts span about a day.
    max_attempts: int = Field(default=15, ge=1, le=100)
    base_backoff_s: float = Field(default=10.0, ge=0)
    max_backoff_s: float = Field(default=6 * 3600.0, ge=0)
    # The dispatcher: deliveries claimed per round, idle poll interval, attempts of a round in
    # flight at once (and connections kept alive).
    dispatch_batch_size: int = Field(default=1000, gt=0, le=1000)
    poll_interval_s: float = Field(default=1.0, gt=0)
    max_concurrent_sends: int = Field(default=50, gt=0, le=1000)
    # After a secret rotation the previous secret also signs for this long.
    secret_overlap_s: float = Field(default=24 * 3600.0, ge=0)
    # Endpoints per partner client.
    max_endpoints_per_client: int = Field(default=20, gt=0)

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value


class FinanceSyncSettings(BaseModel):
    """The scheduled sync with Finance (docs/finance.md): reports and commissions of closed
    periods, checked at each slot of ``cron`` in ``timezone``."""

    enabled: bool = True
    cron: str = "15 * * * *"
    timezone: str = "UTC"
    # Closed months looked at by each run (the month just closed and those before it): a
    # failed run is retried, and a deal corrected after its month was calculated is found,
    # within this window. The quarters ending in it are reported too.
    lookback_months: int = Field(default=3, ge=1, le=24)
    # Deals per commissions request (each request carries its own Idempotency-Key).
    commission_batch_size: int = Field(default=100, gt=0, le=10_000)
    # Finance's commission plan, sent with every request (None: Finance's default plan).
    commission_plan_id: str | None = Field(default=None, max_length=64)
    # How long one batch is retried while Finance fails (full-jitter backoff between tries),
    # before the run is recorded as failed and left to the next slot.
    deadline_s: float = Field(default=300.0, gt=0)
    retry_base_backoff_s: float = Field(default=1.0, ge=0)
    retry_max_backoff_s: float = Field(default=30.0, ge=0)


class TracingSettings(BaseModel):
    """Traces are configured by the standard OTEL_* variables (docs/operations.md); these
    choose what the gateway adds to them."""

    # A span per resolver call (each field with a resolver of its own): detailed, and costly.
    resolvers: bool = False


class MetricsSettings(BaseModel):
    """Prometheus metrics at ``/metrics`` (docs/operations.md, "Metrics")."""

    enabled: bool = True
    # A port of their own (the gateway's, served by `sales-graph serve`): /metrics is then
    # answered there only, and the main listener answers 404.
    port: int | None = Field(default=None, ge=1, le=65535)
    # `sales-graph worker` has no listener of its own: it serves its metrics here (None: not).
    worker_port: int | None = Field(default=9101, ge=1, le=65535)
    # The address the metrics ports bind.
    host: str = "127.0.0.1"
    # When set, a scrape must send `Authorization: Bearer <token>`, on every listener. In
    # production the main listener serves /metrics only with a token (or not at all).
    token: SecretStr | None = None
    # GraphQL operation names kept as label values (per process); later ones count as other.
    graphql_operation_names: int = Field(default=100, ge=0)
    # How often the worker samples the outbox backlog and the scheduled jobs' last runs.
    sample_interval_s: float = Field(default=15.0, gt=0)

    @field_validator("port", "worker_port", mode="before")
    @classmethod
    def _blank_port(cls, value: object) -> object:
        """``SALES_GRAPH_METRICS__WORKER_PORT=`` (empty): no port."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("token")
    @classmethod
    def _blank_token(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value().strip() else None


# The driver a URL without one gets (the async ones sales-graph is built on).
_ASYNC_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SALES_GRAPH_",
        env_nested_delimiter="__",
        extra="ignore",
        # A refused value may be a secret: the error names the setting, not the value.
        hide_input_in_errors=True,
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
    # Freeze the startup heap and raise the GC thresholds in served processes (gctune.py).
    gc_freeze: bool = True

    auth: AuthSettings = AuthSettings()
    graphql: GraphQLSettings = GraphQLSettings()
    http: HTTPSettings = HTTPSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    events: EventSettings = EventSettings()
    subscriptions: SubscriptionSettings = SubscriptionSettings()
    finance_sync: FinanceSyncSettings = FinanceSyncSettings()
    webhooks: WebhookSettings = WebhookSettings()
    tracing: TracingSettings = TracingSettings()
    metrics: MetricsSettings = MetricsSettings()

    marketing: UpstreamSettings = UpstreamSettings()
    customer_experience: UpstreamSettings = UpstreamSettings()
    support: UpstreamSettings = UpstreamSettings()
    billing: UpstreamSettings = UpstreamSettings()
    finance: UpstreamSettings = UpstreamSettings()

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        """A URL as psql or libpq writes it (``postgresql://``, ``postgres://``) or a plain
        ``sqlite:///`` gets the async driver sales-graph runs on; blank is none."""
        if value is None or not value.strip():
            return None
        scheme, separator, rest = value.strip().partition("://")
        driver = _ASYNC_DRIVERS.get(scheme.lower())
        return f"{driver}{separator}{rest}" if driver and separator else value.strip()

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

    def upstream(self, system: str) -> UpstreamSettings:
        """The settings of one upstream system by its name (one of ``UPSTREAM_SYSTEMS``)."""
        found = getattr(self, system, None)
        if not isinstance(found, UpstreamSettings):
            raise KeyError(system)
        return found


# The upstream systems, in the order their settings are declared: the one list that the
# connectors, the upstream loaders, readiness and the simulators are checked against.
UPSTREAM_SYSTEMS: tuple[str, ...] = tuple(
    name for name, field in Settings.model_fields.items() if field.annotation is UpstreamSettings
)
